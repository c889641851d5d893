/** A card element or any object inside one, as the rendered JSON holds it. */
export type CardNode = Record<string, unknown>;

/** Every object in a rendered card, depth first: elements, actions, facts, chart data. */
export function cardNodes(node: unknown, out: CardNode[] = []): CardNode[] {
  if (Array.isArray(node)) for (const n of node) cardNodes(n, out);
  else if (node && typeof node === 'object') {
    out.push(node as CardNode);
    for (const v of Object.values(node)) cardNodes(v, out);
  }
  return out;
}

/** The elements of one type (e.g. "Chart.Gauge"), in card order. */
export function elementsOfType(card: unknown, type: string): CardNode[] {
  return cardNodes(card).filter((n) => n.type === type);
}

/** The text of a chart's fallback TextBlock: what a client without charts shows instead. */
export function fallbackText(chart: CardNode | undefined): string {
  const fallback = chart?.fallback as CardNode | undefined;
  if (fallback?.type !== 'TextBlock') throw new Error(`chart ${String(chart?.type)} has no TextBlock fallback`);
  return String(fallback.text);
}
