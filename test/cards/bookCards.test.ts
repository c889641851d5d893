import { strict as assert } from 'node:assert';
import { bookListCard, type BookListView } from '../../cards/bookCards';
import { cardNodes, elementsOfType, fallbackText, type CardNode } from './cardNodes';

type Book = BookListView['books'][number];

function book(id: string, title: string, used: number, available: number, extra: Partial<Book> = {}): Book {
  return { id, tokenId: 'tok-1', tokenDisplayName: 'Northwind', title, totalLicenseCount: used + available, usedLicenseCount: used, availableLicenseCount: available, ...extra };
}

function page(books: Book[]): BookListView {
  return { books, text: '', offset: 0, previous: undefined, next: undefined, tokenCount: 1 };
}

/** The container of one book on the card: its title, facts, chart and button. */
function entryOf(card: unknown, title: string): CardNode {
  const entry = cardNodes(card).find((n) => n.type === 'Container' && cardNodes(n.items).some((i) => i.type === 'TextBlock' && i.text === title));
  assert.ok(entry, `the card lists ${title}`);
  return entry;
}

const assignButton = (entry: CardNode) => cardNodes(entry).find((n) => n.type === 'Action.Submit' && n.title === 'Assign');

describe('books card', () => {
  const card = bookListCard(
    page([
      book('b1', 'Emma', 1_200, 800),
      book('b2', 'Middlemarch', 20, 0),
      book('b3', 'The Art of War', 40, 2_147_483_607, { totalLicenseCount: 2_147_483_647, unlimited: true }),
    ]),
  );

  it('a book with no license left has no Assign button, and says why on a tinted container, in readable text', () => {
    const gone = entryOf(card, 'Middlemarch');
    assert.equal(assignButton(gone), undefined);
    const [tinted] = elementsOfType(gone, 'Container').filter((c) => c.style === 'attention');
    const why = elementsOfType(tinted, 'TextBlock').find((n) => String(n.text).startsWith('No licenses available, so it cannot be assigned'));
    assert.equal(why?.text, 'No licenses available, so it cannot be assigned: buy more in Apple Business Manager or Apple School Manager, then sync.');
    assert.equal(why.color, undefined, "no red text: it fails contrast in Teams' dark theme");
    assert.ok(cardNodes(gone).some((n) => n.title === 'Available' && n.value === '0 (none left)'));
  });

  it('a book with licenses left, and a free book, keep their Assign button with the book on it', () => {
    assert.deepEqual(assignButton(entryOf(card, 'Emma'))?.data, { command: 'assign', tokenId: 'tok-1', args: { bookId: 'b1' } });
    assert.ok(assignButton(entryOf(card, 'The Art of War')));
    assert.ok(!cardNodes(entryOf(card, 'Emma')).some((n) => n.type === 'TextBlock' && String(n.text).startsWith('No licenses available')));
  });

  it("draws each book's used and available licenses as bars, the numbers also in words; a free book has no bars", () => {
    const [emma] = elementsOfType(entryOf(card, 'Emma'), 'Chart.HorizontalBar');
    assert.deepEqual((emma?.data as Array<{ x: string; y: number }>).map((d) => [d.x, d.y]), [['Used', 1_200], ['Available', 800]]);
    assert.equal(fallbackText(emma), 'Licenses: 1,200 of 2,000 used (60%), 800 available.');
    const [middlemarch] = elementsOfType(entryOf(card, 'Middlemarch'), 'Chart.HorizontalBar');
    assert.equal(fallbackText(middlemarch), 'Licenses: 20 of 20 used (100%), 0 available.');
    assert.deepEqual(elementsOfType(entryOf(card, 'The Art of War'), 'Chart.HorizontalBar'), []);
  });
});
