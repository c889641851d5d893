import * as ACData from 'adaptivecards-templating';
import { z } from 'zod';
import helpTemplate from './help.json';
import welcomeTemplate from './welcome.json';

/** An Adaptive Card as plain JSON; the bot layer wraps it into an attachment. */
export type AdaptiveCardJson = Record<string, unknown> & { type: 'AdaptiveCard'; version: string };

const adaptiveCardSchema = z.looseObject({ type: z.literal('AdaptiveCard'), version: z.string() });

/**
 * One Template per template JSON: a Template keeps its parsed expressions, and parsing them is most of
 * the cost of a render (milliseconds per card, on every turn).
 */
const compiledTemplates = new WeakMap<object, ACData.Template>();

/** Binds `data` into a template with the Adaptive Cards templating engine. */
export function renderCard(template: object, data: object): AdaptiveCardJson {
  let compiled = compiledTemplates.get(template);
  if (!compiled) {
    compiled = new ACData.Template(template);
    compiledTemplates.set(template, compiled);
  }
  const expanded: unknown = compiled.expand({ $root: data });
  return adaptiveCardSchema.parse(expanded) as AdaptiveCardJson;
}

export interface HelpCardData {
  commands: ReadonlyArray<{ command: string; description: string }>;
  /** Who holds the tokens (VPP_BACKEND), in a sentence. */
  backend: string;
}

export function helpCard(data: HelpCardData): AdaptiveCardJson {
  return renderCard(helpTemplate, data);
}

export function welcomeCard(): AdaptiveCardJson {
  return renderCard(welcomeTemplate, {});
}
