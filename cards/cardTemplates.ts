import * as ACData from 'adaptivecards-templating';
import { z } from 'zod';
import helpTemplate from './help.json';
import welcomeTemplate from './welcome.json';

/** An Adaptive Card as plain JSON; the bot layer wraps it into an attachment. */
export type AdaptiveCardJson = Record<string, unknown> & { type: 'AdaptiveCard'; version: string };

const adaptiveCardSchema = z.looseObject({ type: z.literal('AdaptiveCard'), version: z.string() });

/** Binds `data` into a template with the Adaptive Cards templating engine. */
export function renderCard(template: object, data: object): AdaptiveCardJson {
  const expanded: unknown = new ACData.Template(template).expand({ $root: data });
  return adaptiveCardSchema.parse(expanded) as AdaptiveCardJson;
}

export interface HelpCardData {
  commands: ReadonlyArray<{ command: string; description: string; available: boolean }>;
}

export function helpCard(data: HelpCardData): AdaptiveCardJson {
  return renderCard(helpTemplate, data);
}

export function welcomeCard(): AdaptiveCardJson {
  return renderCard(welcomeTemplate, {});
}
