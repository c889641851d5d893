import { strict as assert } from 'node:assert';
import { bookStatusCard, type BookStatusView } from '../../cards/bookStatusCards';
import { elementsOfType, fallbackText } from './cardNodes';

type Group = BookStatusView['groups'][number];

function group(name: string, budget?: Group['budget']): Group {
  return {
    groupName: name,
    installIntent: 'required',
    status: 'completed',
    counts: { processed: 60, licensed: 60, awaitingInvitation: 0, failed: 0 },
    reasons: [],
    budget,
    lastModifiedDateTime: '2026-03-01T10:00:00.000Z',
  };
}

function view(overrides: Partial<BookStatusView> = {}): BookStatusView {
  return {
    book: { title: 'Emma', totalLicenseCount: 1_000, usedLicenseCount: 600, availableLicenseCount: 400 },
    token: { displayName: 'Northwind' },
    reserved: 150,
    groups: [group('Year 9', { approved: 300, spent: 120, left: 180, leftOut: 0 }), group('Staff')],
    ...overrides,
  };
}

describe('book status card', () => {
  it("draws the book's licenses as a donut: used, held for requests and approved assignments, and the rest, with the numbers in words", () => {
    const [donut] = elementsOfType(bookStatusCard(view()), 'Chart.Donut');
    assert.deepEqual((donut?.data as Array<{ legend: string; value: number }>).map((d) => [d.legend, d.value]), [
      ['Used', 600],
      ['Held for requests and assignments', 150],
      ['Available, not reserved', 250],
    ]);
    assert.equal(fallbackText(donut), 'Licenses: 600 of 1,000 used (60%), 400 available, 150 of them held for requests and approved assignments.');
  });

  it("draws each group's approved budget as a gauge of spent licenses; a group without a budget has none", () => {
    const gauges = elementsOfType(bookStatusCard(view()), 'Chart.Gauge');
    assert.equal(gauges.length, 1);
    assert.deepEqual([gauges[0]?.value, gauges[0]?.max], [120, 300]);
    assert.equal(fallbackText(gauges[0]), 'Approved licenses: 120 of 300 spent (40%), 180 left.');
  });

  it("puts a group's failure reasons on a tinted container in readable text; a group without any has none", () => {
    const failing = { ...group('Year 9'), reasons: [{ code: '9610', message: 'The user is not in the organisation', count: 1_200 }], lastError: 'Apple did not answer.' };
    const card = bookStatusCard(view({ groups: [failing, group('Staff')] }));
    const tinted = elementsOfType(card, 'Container').filter((c) => c.style === 'attention');
    assert.equal(tinted.length, 1, 'only the failing group');
    const lines = elementsOfType(tinted[0], 'TextBlock');
    assert.deepEqual(lines.map((l) => l.text), ['1,200 × The user is not in the organisation (Apple 9610)', 'Apple did not answer.']);
    assert.ok(lines.every((l) => l.color === undefined), "no red text: it fails contrast in Teams' dark theme");
  });

  it('a free book has no license donut (unlimited is no whole)', () => {
    const free = bookStatusCard(view({ book: { title: 'Free', totalLicenseCount: 2_147_483_647, usedLicenseCount: 40, availableLicenseCount: 2_147_483_607, unlimited: true } }));
    assert.deepEqual(elementsOfType(free, 'Chart.Donut'), []);
  });
});

type IntuneState = NonNullable<BookStatusView['intune']>;

function intuneState(overrides: Partial<IntuneState> = {}): IntuneState {
  return {
    assignments: [
      { target: { kind: 'group', groupId: 'g-9', groupName: 'Year 9' }, installIntent: 'required', byBot: true },
      { target: { kind: 'group', groupId: 'g-lib', groupName: 'Library *helpers*' }, installIntent: 'available', byBot: false },
      { target: { kind: 'group', groupId: '9c9c9c9c-5555-4666-8777-888888888888' }, installIntent: 'required', byBot: false },
      { target: { kind: 'allUsers' }, installIntent: 'available', byBot: false },
    ],
    missing: ['Year 10'],
    summary: { installedDeviceCount: 1_200, failedDeviceCount: 14, notInstalledDeviceCount: 36, installedUserCount: 1_150, failedUserCount: 12, notInstalledUserCount: 30 },
    failedDevices: Array.from({ length: 10 }, (_, i) => ({ deviceName: `iPad-${i}`, userName: `Pupil ${i}`, errorCode: '0x87D13B9F' })),
    failedDeviceCount: 14,
    devicesRead: 1_250,
    complete: true,
    problems: [],
    ...overrides,
  };
}

const texts = (card: unknown): string[] => elementsOfType(card, 'TextBlock').map((t) => String(t.text));

describe('book status card in Intune mode', () => {
  it("draws the book's devices in Intune as a donut: installed, failed, not installed, with the numbers in words as its fallback", () => {
    const card = bookStatusCard(view({ intune: intuneState() }));
    const donut = elementsOfType(card, 'Chart.Donut').find((d) => d.title === 'Devices');
    assert.ok(donut, 'a devices donut');
    assert.deepEqual((donut.data as Array<{ legend: string; value: number }>).map((d) => [d.legend, d.value]), [
      ['Installed', 1_200],
      ['Failed', 14],
      ['Not installed', 36],
    ]);
    assert.equal(fallbackText(donut), 'Devices: 1,200 of 1,250 installed (96%), 14 failed, 36 not installed.');
    assert.ok(texts(card).includes('Users: 1,150 with it on all their devices, 12 with a failed device, 30 not installed.'));
  });

  it("lists Intune's assignments, saying which were made in Intune rather than through the bot, and the bot's that Intune lost", () => {
    const lines = texts(bookStatusCard(view({ intune: intuneState() })));
    for (const line of [
      'Year 9: Required',
      'Library \\*helpers\\*: Available (made in Intune, not through me)',
      'Group 9c9c9c9c-5555-4666-8777-888888888888: Required (made in Intune, not through me)',
      'All users: Available (made in Intune, not through me)',
      '⚠️ Assigned through me but not in Intune any more: Year 10.',
    ]) {
      assert.ok(lines.includes(line), `the card says "${line}"`);
    }
  });

  it('names the first ten failed devices by device, user and error code, and counts the rest', () => {
    const lines = texts(bookStatusCard(view({ intune: intuneState() })));
    const heading = lines.indexOf('Failed devices');
    assert.ok(heading > 0);
    assert.deepEqual(lines.slice(heading + 1, heading + 12), [...Array.from({ length: 10 }, (_, i) => `iPad-${i} (Pupil ${i}): error 0x87D13B9F`), '… and 4 more']);
  });

  it("says which devices were read when the read stopped early, and takes the total from Intune's summary", () => {
    const cut = intuneState({ complete: false, devicesRead: 2_000, failedDeviceCount: 11, failedDevices: [{ deviceName: 'iPad-1', errorCode: '0x1' }, { deviceName: '' }] });
    const lines = texts(bookStatusCard(view({ intune: cut })));
    const heading = lines.indexOf('Failed devices, from the first 2,000 devices Intune listed');
    assert.ok(heading > 0, 'the heading says "the first 2,000"');
    assert.deepEqual(lines.slice(heading + 1, heading + 4), ['iPad-1: error 0x1', 'A device without a name: no error code given', '… and 12 more']);

    const noneRead = texts(bookStatusCard(view({ intune: intuneState({ complete: false, devicesRead: 2_000, failedDeviceCount: 0, failedDevices: [] }) })));
    assert.ok(noneRead.includes('Intune counts 14 failed devices, none of them among the first 2,000 devices it listed.'));
  });

  it("puts what Intune did not answer on a tinted container, in default text, and shows the store's groups without Apple's per-user counts", () => {
    const card = bookStatusCard(view({ intune: intuneState({ summary: undefined, failedDevices: [], failedDeviceCount: 0, problems: ['Intune is not answering. Nothing was changed.'] }) }));
    const tinted = elementsOfType(card, 'Container').filter((c) => c.style === 'attention');
    assert.deepEqual(tinted.flatMap((c) => texts(c)), ['⚠️ Intune is not answering. Nothing was changed.']);
    assert.ok(cardNodesHaveNoTextColour(card));
    assert.equal(elementsOfType(card, 'Chart.Donut').filter((d) => d.title === 'Devices').length, 0, 'no summary, no devices donut');

    const facts = elementsOfType(card, 'FactSet').map((f) => (f.facts as Array<{ title: string }>).map((x) => x.title));
    assert.deepEqual(facts[0], ['Intent', 'Status', 'Licenses approved / spent / left', 'Updated']);
    assert.ok(texts(card).includes('Assigned through me'));
  });

  it('says when a group was taken off the book in Intune after a refused top-up', () => {
    const card = bookStatusCard(view({ intune: intuneState(), groups: [{ ...group('Year 9'), withdrawnFromIntune: '2026-02-01T09:00:00.000Z' }] }));
    const facts = elementsOfType(card, 'FactSet').flatMap((f) => f.facts as Array<{ title: string; value: string }>);
    assert.deepEqual(
      facts.find((f) => f.title === 'Taken off in Intune')?.value,
      '1 Feb 2026, 09:00 UTC: its top-up was refused, so Intune licenses no newcomers (licenses already spent stay)',
    );
  });

  it("words a top-up in Intune's terms: approved, Intune goes on; refused or expired, the group comes off the book in Intune", () => {
    const topUp = (state: 'pending' | 'approved' | 'declined', intune: IntuneState | undefined) => {
      const standing = { joined: 3, waiting: 3, left: 0, leftNames: [], topUp: { count: 3, state } };
      const card = bookStatusCard(view({ intune, groups: [{ ...group('Year 9'), standing }] }));
      return elementsOfType(card, 'FactSet').flatMap((f) => f.facts as Array<{ title: string; value: string }>).find((f) => f.title === 'Top-up asked for')?.value;
    };
    assert.equal(topUp('declined', intuneState()), '3 licenses, refused or expired: the group is taken off the book in Intune, so Intune licenses no newcomers (licenses already spent stay)');
    assert.equal(topUp('approved', intuneState()), '3 licenses, approved: Intune goes on licensing newcomers up to the new budget');
    assert.equal(topUp('pending', intuneState()), '3 licenses, waiting for approval');
    assert.equal(topUp('declined', undefined), '3 licenses, refused or expired (asked again only if the number changes)', 'Apple mode as it was');
    assert.equal(topUp('approved', undefined), '3 licenses, approved, being handed out');
  });

  it('a book no device reported yet has no donut but the numbers in words', () => {
    const zero = { installedDeviceCount: 0, failedDeviceCount: 0, notInstalledDeviceCount: 0, installedUserCount: 0, failedUserCount: 0, notInstalledUserCount: 0 };
    const card = bookStatusCard(view({ intune: intuneState({ summary: zero, failedDevices: [], failedDeviceCount: 0, assignments: [], missing: [] }) }));
    assert.equal(elementsOfType(card, 'Chart.Donut').filter((d) => d.title === 'Devices').length, 0);
    const lines = texts(card);
    assert.ok(lines.includes('Devices: 0 of 0 installed (0%), 0 failed, 0 not installed.'));
    assert.ok(lines.includes('None: Intune does not assign this book to anyone.'));
    assert.ok(!lines.some((l) => l.startsWith('Failed devices')));
  });

  it("leaves Apple mode's card as it was: no Intune part, Apple's per-user counts and wording", () => {
    const card = bookStatusCard(view({ groups: [{ ...group('Year 9'), status: 'paused', reasons: [{ code: '9646', message: 'Too many requests', count: 2 }] }] }));
    assert.deepEqual(
      (card.body as Array<{ type: string }>).map((e) => e.type),
      ['TextBlock', 'TextBlock', 'Chart.Donut', 'Container'],
      'title, licenses, donut, one group',
    );
    const lines = texts(card);
    assert.ok(!lines.some((l) => /Intune|Assigned through me|Failed devices/.test(l)));
    assert.ok(lines.includes('2 × Too many requests (Apple 9646)'));
    const facts = elementsOfType(card, 'FactSet').flatMap((f) => f.facts as Array<{ title: string; value: string }>);
    assert.deepEqual(
      facts.map((f) => f.title),
      ['Intent', 'Status', 'Users', 'Installed / assigned', 'Pending invitation', 'Failed', 'Updated'],
    );
    assert.equal(facts[1]?.value, 'Paused: Apple is not answering (resumes by itself)');
    assert.deepEqual(texts(bookStatusCard(view({ groups: [] }))).slice(-1), ['This book is not assigned to any group yet. Type **assign** to assign it.']);
  });
});

/** No TextBlock or TextRun sets a colour (docs/STYLE-GUIDE.md: words and emoji carry the state). */
function cardNodesHaveNoTextColour(card: unknown): boolean {
  return [...elementsOfType(card, 'TextBlock'), ...elementsOfType(card, 'TextRun')].every((t) => t.color === undefined);
}
