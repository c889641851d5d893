import { APPLE_PORTALS } from '../services/common/appleTerms';
import { echoArgument, escapeMarkdown, looksLikeToken } from '../services/common/chatText';
import { formatCount } from '../services/common/format';
import { renderCard, type AdaptiveCardJson } from './cardTemplates';
import { bookLicenseBars, MAX_CHARTED_ENTRIES } from './charts';
import bookListTemplate from './bookList.json';

/** What the books card shows of one book; structurally matches the catalog's CatalogBook. */
interface BookView {
  id: string;
  tokenId: string;
  tokenDisplayName: string;
  title: string;
  author?: string | undefined;
  coverUrl?: string | undefined;
  totalLicenseCount: number;
  usedLicenseCount: number;
  availableLicenseCount: number;
  unlimited?: boolean | undefined;
}

export interface BookListView {
  books: readonly BookView[];
  text: string;
  offset: number;
  previous: { offset: number } | undefined;
  next: { offset: number } | undefined;
  tokenCount: number;
}

function emptyText(view: BookListView): string {
  if (view.books.length > 0) return '';
  if (view.tokenCount === 0) return 'No VPP tokens yet, so no books. Type **upload token** to add one, then **sync**.';
  if (view.offset > 0) return 'No more books on this page.';
  if (view.text) return `No books match ${echoArgument(view.text)}. Try part of the title or the author's name.`;
  return 'No books yet. Type **sync** to read the purchased books from Apple.';
}

export function bookListCard(view: BookListView): AdaptiveCardJson {
  const first = view.offset + 1;
  const last = view.offset + view.books.length;
  // The search box and the paging buttons carry the search back; a pasted token must not ride along in them.
  const searchText = looksLikeToken(view.text) ? '' : view.text;
  const charted = view.books.length <= MAX_CHARTED_ENTRIES;
  return renderCard(bookListTemplate, {
    heading: view.text ? `Books matching ${echoArgument(view.text)}` : 'Books',
    subheading: view.books.length > 0 ? `Showing ${formatCount(first)}–${formatCount(last)}${view.next ? ', more on the next page' : ''}` : '',
    emptyText: emptyText(view),
    // Shown on each book with no license left, on a tinted container: Teams' red text fails contrast in its dark theme.
    noneAvailableText: `No licenses available, so it cannot be assigned: buy more in ${APPLE_PORTALS}, then sync.`,
    text: searchText,
    hasPrevious: view.previous !== undefined,
    hasNext: view.next !== undefined,
    // Card data values stay strings: the args a button submits are validated as strings.
    previousOffset: String(view.previous?.offset ?? 0),
    nextOffset: String(view.next?.offset ?? 0),
    books: view.books.map((b) => ({
      id: b.id,
      tokenId: b.tokenId,
      title: escapeMarkdown(b.title),
      plainTitle: b.title,
      author: escapeMarkdown(b.author ?? ''),
      coverUrl: b.coverUrl ?? '',
      // No license left: the card says so instead of offering an Assign button that could only be refused.
      noneAvailable: !b.unlimited && b.availableLicenseCount === 0,
      licenseChart: charted ? bookLicenseBars(b) : { show: false },
      // FactSet values must be strings.
      tokenLabel: escapeMarkdown(b.tokenDisplayName),
      totalLabel: b.unlimited ? 'Unlimited (free book)' : formatCount(b.totalLicenseCount),
      usedLabel: formatCount(b.usedLicenseCount),
      availableLabel: b.unlimited ? 'Unlimited' : b.availableLicenseCount === 0 ? '0 (none left)' : formatCount(b.availableLicenseCount),
    })),
  });
}
