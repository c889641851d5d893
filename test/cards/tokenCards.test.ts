import { strict as assert } from 'node:assert';
import { MAX_CHARTED_ENTRIES } from '../../cards/charts';
import { tokenListCard, tokenPreviewCard, tokenRemoveCard, type TokenPreviewData, type TokenView } from '../../cards/tokenCards';
import { cardNodes, elementsOfType, fallbackText } from './cardNodes';

const NOW = new Date('2026-03-01T00:00:00.000Z');
const DAY = 24 * 3_600_000;

function token(id: string, daysLeft: number): TokenView {
  return {
    id,
    displayName: `Token ${id}`,
    organizationName: 'Northwind Academy',
    locationName: 'Main Campus',
    expirationDateTime: new Date(NOW.getTime() + daysLeft * DAY + 3_600_000).toISOString(),
    state: 'valid',
    lastSyncStatus: 'completed',
  };
}

describe('tokens card', () => {
  it("shows each token's expiry as a bar of days left against the year's validity, the same numbers in words", () => {
    const bars = elementsOfType(tokenListCard([token('a', 200), token('b', 12), token('c', 3_504)], NOW), 'Chart.HorizontalBar');
    assert.deepEqual(bars.map((b) => b.displayMode), ['PartToWhole', 'PartToWhole', 'PartToWhole']);
    assert.deepEqual(
      bars.map((b) => (b.data as Array<{ y: number }>).map((d) => d.y)),
      [[200, 165], [12, 353], [365, 0]],
    );
    assert.deepEqual(bars.map((b) => fallbackText(b)), [
      'Expiry: 200 of 365 days left (55%).',
      'Expiry: 12 of 365 days left (3%).',
      "Expiry: 3,504 days left, more than the 365 days of a year's validity.",
    ]);
  });

  it("labels the facts in Apple's current words and British spelling", () => {
    const facts = cardNodes(tokenListCard([{ ...token('a', 200), appleId: 'vpp-admin@northwind.example' }], NOW)).filter((n) => n.title !== undefined && n.value !== undefined);
    assert.ok(facts.some((f) => f.title === 'Organisation' && f.value === 'Northwind Academy'));
    assert.ok(facts.some((f) => f.title === 'Apple Account' && f.value === 'vpp-admin@northwind.example'));
  });

  it('warns of a token expiring soon or expired with an emoji and words, in readable text', () => {
    const warnings = elementsOfType(tokenListCard([token('a', 200), token('b', 12), token('c', -3)], NOW), 'TextBlock').filter((n) => n.weight === 'Bolder' && /^(?:⚠️|⌛)/.test(String(n.text)));
    assert.deepEqual(
      warnings.map((w) => w.text),
      ['⚠️ Expires in 12 days: download a new token from Apple and renew it soon.', '⌛ This token has expired: download a new one from Apple and type **renew** to replace it.'],
    );
    assert.ok(warnings.every((w) => w.color === undefined), "no red text: it fails contrast in Teams' dark theme");
  });

  it('a list of many tokens keeps to its facts, with no chart each', () => {
    const many = Array.from({ length: MAX_CHARTED_ENTRIES + 1 }, (_, i) => token(String(i), 100));
    assert.deepEqual(elementsOfType(tokenListCard(many, NOW), 'Chart.HorizontalBar'), []);
  });
});

const PREVIEW: TokenPreviewData = {
  ref: 'ref-1',
  organizationName: 'Northwind Academy',
  locationName: 'Northwind Academy – Main Campus',
  countryOrRegion: 'GB',
  expirationDateTime: '2036-06-30T23:59:59.000Z',
  bookCount: 39,
  appleId: 'vpp-admin@northwind.example',
  accountType: 'business',
  otherMdmName: 'Contoso *MDM*',
};

const textsOf = (card: unknown): string[] => elementsOfType(card, 'TextBlock').map((t) => String(t.text));
const buttonsOf = (card: unknown): string[] => cardNodes(card).filter((n) => n.type === 'Action.Submit').map((n) => String(n.title));

describe('take control card', () => {
  it('in Apple mode says VPP Books takes control, as it always did', () => {
    const card = tokenPreviewCard(PREVIEW, NOW);
    assert.deepEqual(textsOf(card), [
      'Confirm the VPP token',
      'This token is managed by Contoso \\*MDM\\*',
      'Apple lets only one MDM manage a token. If VPP Books takes control, Contoso \\*MDM\\* stops managing it: the licenses it assigned and its user records can be lost, and it will show sync errors. Take control only if you are moving this location to VPP Books.',
    ]);
    assert.deepEqual(buttonsOf(card), ['Take control from Contoso *MDM*', 'Cancel']);
  });

  it('in Intune mode says Intune takes control, not VPP Books', () => {
    const card = tokenPreviewCard({ ...PREVIEW, holder: 'intune' }, NOW);
    const texts = textsOf(card);
    assert.equal(
      texts[2],
      'Apple lets only one MDM manage a token. If Intune takes control, Contoso \\*MDM\\* stops managing it: the licenses it assigned and its user records can be lost, and it will show sync errors. Take control only if you are moving this location to Intune.',
    );
    assert.ok(!texts.some((t) => /VPP Books/.test(t)));
    assert.deepEqual(buttonsOf(card), ['Let Intune take control', 'Cancel']);
  });

  it('reads sensibly for a token this bot held itself (Apple mode) that Intune is to take: "I", not "VPP Books"', () => {
    const card = tokenPreviewCard({ ...PREVIEW, otherMdmName: 'VPP Books', holder: 'intune', otherMdmIsThisBot: true }, NOW);
    const texts = textsOf(card);
    assert.equal(texts[1], 'I manage this token myself, not Intune');
    assert.match(texts[2] ?? '', /^It was added while I held the VPP tokens myself, so Apple names me as its MDM\. If Intune takes control, Intune licenses and installs its books from now on/);
    assert.ok(!texts.some((t) => /managed by VPP Books|VPP Books stops/.test(t)));
  });

  it('a renewal says so and counts the books synced', () => {
    const card = tokenPreviewCard({ ...PREVIEW, holder: 'intune', renewal: true }, NOW);
    assert.equal(textsOf(card)[0], 'Renew the VPP token');
    const facts = cardNodes(card).filter((n) => n.title === 'Books');
    assert.deepEqual(facts.map((f) => f.value), ['39']);
  });
});

describe('remove confirmation card', () => {
  it('in Apple mode removes from VPP Books, as it always did', () => {
    const card = tokenRemoveCard({ ref: 'r', displayName: 'Northwind', bookCount: 1_234 });
    assert.deepEqual(textsOf(card), [
      'Remove Northwind?',
      'Removing the token deletes it and its 1,234 books from VPP Books. The bot stops syncing this location and you can no longer assign its books. Books already assigned stay with their users: book licenses cannot be reclaimed. Apple keeps your purchased licenses, and the audit trail stays. You can upload the token again later.',
    ]);
    assert.deepEqual(buttonsOf(card), ['Remove token', 'Keep it']);
  });

  it('in Intune mode says the token is deleted in Intune with its books and every assignment, and how to confirm', () => {
    const card = tokenRemoveCard({ ref: 'r', displayName: 'Northwind *N*', bookCount: 1_234, deletesInIntune: true });
    const [title, text, warning] = textsOf(card);
    assert.equal(title, 'Delete Northwind \\*N\\* from Intune?');
    assert.match(text ?? '', /^This deletes the token in Intune, not only here, and Intune then deletes its 1,234 books and every assignment of them, including those made in Intune directly\. Required books stop installing on managed devices/);
    assert.doesNotMatch(text ?? '', /VPP Books|upload the token again later/);
    assert.match(warning ?? '', /^⚠️ Nothing brings the assignments back.+After \*\*Delete from Intune\*\* I ask you to type the token's name\.$/);
    assert.deepEqual(buttonsOf(card), ['Delete from Intune', 'Keep it']);
    assert.ok(elementsOfType(card, 'TextBlock').every((t) => t.color === undefined));
  });
});
