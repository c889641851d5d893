/** The datasets a card's typeahead box may name (`choices.data.dataset`). */
export const SEARCH_DATASETS = ['books', 'groups'] as const;
export type SearchDataset = (typeof SEARCH_DATASETS)[number];

/** Teams shows at most 15 choices in a typeahead dropdown (dynamic-search: "limited to 15"). */
const MAX_SEARCH_RESULTS = 15;

export interface SearchQuery {
  /** The admin's tenant (from Teams, never from card data). */
  tenantId: string;
  dataset: SearchDataset;
  /** What the admin has typed so far; may be empty. */
  text: string;
  skip: number;
  /** At most MAX_SEARCH_RESULTS. */
  top: number;
}

/** One choice of the dropdown: plain text to show, and the value the card submits when it is picked. */
export interface SearchResult {
  title: string;
  value: string;
}

/** One dataset's search. */
export interface DatasetSearch {
  search(query: SearchQuery): Promise<SearchResult[]>;
}

/** Answers a typeahead query from the dataset it names. */
export class TypeaheadSearch {
  constructor(private readonly datasets: Readonly<Record<SearchDataset, DatasetSearch>>) {}

  search(query: SearchQuery): Promise<SearchResult[]> {
    const top = Math.min(Math.max(query.top, 1), MAX_SEARCH_RESULTS);
    return this.datasets[query.dataset].search({ ...query, top, skip: Math.max(query.skip, 0) });
  }
}
