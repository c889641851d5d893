import { strict as assert } from 'node:assert';
import { DEMO_GROUPS } from '../../local/directory';
import { cardText, type CapturedActivity } from '../support/FakeConnector';
import { LibraryStaffApp, PATTI } from '../support/libraryStaffApp';

/**
 * Issue #20: the whole journey, over HTTP with real Bot Framework activities, in both modes: upload the demo
 * token → sync → books → assign Emma as Required to the English Department → another admin approves → the
 * result and `status emma`. In Apple mode the bot licenses the members at the Apple sandbox itself; in Intune
 * mode it hands the group to the local Intune (Graph-shaped, backed by the same sandbox), keeps the assignment
 * Intune already had, and shows the installs Intune reports per device.
 */
const textOf = (a: CapturedActivity): string => String(a.summary ?? a.text ?? '');

/** What Intune holds for a book, read the way any Graph client reads it (v1.0, as the docs show). */
async function intuneGet<T>(base: string, path: string): Promise<T> {
  const response = await fetch(`${base}/v1.0/deviceAppManagement/${path}`);
  assert.equal(response.status, 200, `GET ${path}`);
  return (await response.json()) as T;
}

interface GraphBook {
  id: string;
  displayName: string;
  totalLicenseCount: number;
  usedLicenseCount: number;
}
interface GraphAssignment {
  installIntent: string;
  target: { '@odata.type': string; groupId?: string };
}

for (const backend of ['apple', 'intune'] as const) {
  describe(`the journey over HTTP, ${backend === 'intune' ? 'Intune' : 'Apple'} mode: upload, sync, books, assign Required, approve, status`, function () {
    this.timeout(120_000);
    const bot = new LibraryStaffApp({ backend });
    const { chats } = bot;

    before(async () => {
      await bot.start();
    });
    after(() => bot.stop());

    it(backend === 'intune' ? 'Intune holds the token, gets the group next to the assignment it had, and reports the installs' : 'the bot licenses the members at Apple itself', async () => {
      const help = await chats.say(PATTI, 'help', (a) => cardText(a).includes('VPP Books: commands'));
      assert.match(cardText(help), backend === 'intune' ? /Mode: \*\*Microsoft Intune\*\* holds the VPP tokens/ : /Mode: \*\*this bot\*\* holds the VPP tokens/);
      if (backend === 'intune') assert.match(cardText(help), /Have Intune sync licenses with Apple/);

      await chats.setUpDemoToken({ admin: PATTI, opener: null });
      const books = await chats.say(PATTI, 'books emma', (a) => cardText(a).includes('Emma'));
      assert.match(cardText(books), /Emma/);

      const intune = bot.app?.intuneGraphBaseUrl;
      let emma: GraphBook | undefined;
      if (backend === 'intune') {
        assert.ok(intune, 'the local Intune runs in Intune mode');
        const list = await intuneGet<{ value: GraphBook[] }>(intune, 'managedEBooks?$top=1000');
        emma = list.value.find((b) => b.displayName === 'Emma');
        assert.ok(emma, 'Intune synced the book from Apple');
        // An assignment made in Intune before the bot's: the assign action replaces the list, so it must be sent along.
        const before = await fetch(`${intune}/v1.0/deviceAppManagement/managedEBooks/${emma.id}/assign`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            managedEBookAssignments: [{ '@odata.type': '#microsoft.graph.iosVppEBookAssignment', installIntent: 'available', target: { '@odata.type': '#microsoft.graph.groupAssignmentTarget', groupId: DEMO_GROUPS.libraryStaff } }],
          }),
        });
        assert.equal(before.status, 204);
      }

      const finished = await bot.assignEmmaToEnglish('required');
      if (backend === 'intune') {
        assert.match(textOf(finished), /^Finished assigning "Emma" in Intune as Required to English Department: Intune licenses its \d+ members and installs the book on their managed iPads and iPhones by itself\./);
        assert.match(cardText(finished), /Members handed to Intune/);
        assert.doesNotMatch(cardText(finished), /Licensed now|Invited: licensed once they join|built-in Books app/, 'no Apple-mode words on the result card');
        const assignments = await intuneGet<{ value: GraphAssignment[] }>(intune!, `managedEBooks/${emma!.id}/assignments`);
        const held = assignments.value.map((a) => `${a.target.groupId}:${a.installIntent}`).sort();
        assert.deepEqual(held, [`${DEMO_GROUPS.englishDepartment}:required`, `${DEMO_GROUPS.libraryStaff}:available`].sort(), 'the earlier assignment kept, the new one added');

        // Devices check in after Intune's next sync: the status shows what they report.
        await chats.say(PATTI, 'sync', (a) => cardText(a).includes('finished'), 30_000);
        const status = await chats.say(PATTI, 'status emma', (a) => cardText(a).includes('Emma') && cardText(a).includes('Devices'));
        const text = cardText(status);
        assert.match(text, /Chart\.Donut/, 'the devices drawn');
        assert.match(text, /Library Staff[^"]*: Available \(made in Intune, not through me\)/);
        assert.match(text, /English Department[^"]*: Required/);
        const summary = await intuneGet<{ installedDeviceCount: number; failedDeviceCount: number; notInstalledDeviceCount: number }>(intune!, `managedEBooks/${emma!.id}/installSummary`);
        assert.ok(summary.installedDeviceCount > 0, 'Intune reports installed devices');
        const devices = summary.installedDeviceCount + summary.failedDeviceCount + summary.notInstalledDeviceCount;
        assert.ok(text.includes(`Devices: ${summary.installedDeviceCount} of ${devices} installed`), 'the card says what Intune reports');
      } else {
        assert.match(textOf(finished), /^Finished assigning "Emma": \d+ licensed now/);
        const status = await chats.say(PATTI, 'status emma', (a) => cardText(a).includes('Assignment status: Emma'));
        assert.match(cardText(status), /Licensed","value":"\d+"/);
        assert.doesNotMatch(cardText(status), /Devices/);
      }
    });
  });
}
