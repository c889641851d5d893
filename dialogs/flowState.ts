import type { WaterfallStepContext } from 'botbuilder-dialogs';
import { z } from 'zod';
import { commandSubmissionSchema } from './cardSubmissions';

/**
 * A flow's dialog state is not what the flow wrote. It round-trips through Cosmos between turns, so a
 * version that changed the flow's state, or an edited document, would otherwise be read as if it fitted.
 * A bug or an operator's problem, not the user's: the turn fails with an incident id like any other bug.
 */
export class FlowStateError extends Error {
  override readonly name = 'FlowStateError';

  constructor(
    readonly flow: string,
    readonly part: 'options' | 'values',
    /** Where and how it does not fit (paths and zod's messages, never the values). */
    readonly issues: readonly string[],
  ) {
    super(`The ${flow} flow's dialog ${part} do not match what it wrote: ${issues.join('; ')}`);
  }
}

/**
 * What MainDialog starts every flow with (FlowOptions), derived from the card submission it came from.
 * Loose: the actor is read by `flowActor`, and a flow that restarts itself may carry its own options.
 */
const flowStartSchema = commandSubmissionSchema.pick({ tokenId: true, args: true }).extend({ argument: z.string() }).loose();

/** The parts of a step the accessor reads and writes. */
type FlowStep = Pick<WaterfallStepContext, 'values' | 'options'>;

/** Keys `K` of `T` present (set and not undefined). */
type With<T, K extends keyof T> = Partial<T> & { [P in K]-?: Exclude<T[P], undefined> };

/**
 * One flow's dialog state, read and written one way. `values` are filled in step by step, so a read names
 * the ones its step cannot do without; anything stored that does not fit the schema is a FlowStateError.
 */
export interface FlowState<V, O> {
  /** What the flow was started with (`step.options`). */
  options(step: FlowStep): O;
  /** The values steps wrote so far (`step.values`); `required` must be among them. */
  read<K extends keyof V>(step: FlowStep, ...required: K[]): With<V, K>;
  /** Sets the values in `patch`, checked now rather than when a later turn reads them. */
  write(step: FlowStep, patch: Partial<V>): void;
}

/**
 * The accessor for one flow's state. `values` is best derived from the schemas of the services the data
 * comes from (`.pick()`, `.extend()`), so what is stored is checked by the same rules the service keeps.
 */
export function flowState<V extends z.ZodObject, O extends z.ZodType = typeof flowStartSchema>(
  flow: string,
  values: V,
  options?: O,
): FlowState<z.output<V>, z.output<O>> {
  type Values = z.output<V>;
  // Every value is absent until a step writes it; presence is what `read`'s `required` checks.
  const partial = values.partial();
  const optionsSchema: z.ZodType = options ?? flowStartSchema;

  function check(schema: z.ZodType, part: 'options' | 'values', data: unknown): unknown {
    const result = schema.safeParse(data);
    if (result.success) return result.data;
    throw new FlowStateError(flow, part, result.error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`));
  }

  return {
    options: (step) => check(optionsSchema, 'options', step.options) as z.output<O>,
    read<K extends keyof Values>(step: FlowStep, ...required: K[]): With<Values, K> {
      const state = check(partial, 'values', step.values) as Partial<Values>;
      const missing = required.filter((key) => state[key] === undefined);
      if (missing.length > 0) throw new FlowStateError(flow, 'values', missing.map((key) => `${String(key)}: missing`));
      return state as With<Values, K>;
    },
    write(step, patch) {
      const checked = check(partial, 'values', patch) as Record<string, unknown>;
      const stored = step.values as Record<string, unknown>;
      // Only the keys written: a default the schema would fill in must not overwrite a value set earlier.
      for (const key of Object.keys(patch)) stored[key] = checked[key];
    },
  };
}
