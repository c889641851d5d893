import { strict as assert } from 'node:assert';
import path from 'node:path';
import type { z } from 'zod';
import { collectionSchema, graphErrorSchema } from '../../../services/graph/schemas';
import {
  deviceInstallStateSchema,
  eBookAssignmentSchema,
  eBookInstallSummarySchema,
  entitySchema,
  managedEBookSchema,
  userInstallStateSummarySchema,
  vppTokenSchema,
} from '../../../services/intune/schemas';
import { GROUP_TARGET, type IntuneEBook } from '../../../services/intune/IntuneApi';
import { documentedFixtures } from '../../fixtures/documentedFixtures';

/**
 * Every documented Intune answer (test/fixtures/intune, copied from the Graph pages) is read by the schema
 * the client reads it with. A new answer fixture with no schema here fails, so none is left unread.
 */
const intune = documentedFixtures(path.join(__dirname, '../../fixtures/intune'));

type Json = Record<string, unknown>;

const ANSWERS: Array<[RegExp, z.ZodType]> = [
  [/^vpptokens-list-/, collectionSchema(vppTokenSchema)],
  [/^vpptoken-(get|create|update|synclicenses)-response/, entitySchema(vppTokenSchema)],
  [/^(iosvppebooks|managedebooks)-list-/, collectionSchema(managedEBookSchema)],
  [/^iosvppebook-get-response/, entitySchema(managedEBookSchema)],
  [/^iosvppebookassignments-list-/, collectionSchema(eBookAssignmentSchema)],
  [/^ebookinstallsummary-get-response/, entitySchema(eBookInstallSummarySchema)],
  [/^deviceinstallstates-list-/, collectionSchema(deviceInstallStateSchema)],
  [/^userinstallstatesummaries-list-/, collectionSchema(userInstallStateSummarySchema)],
  [/^(error-|throttled-)/, graphErrorSchema],
];

/** Request bodies the client sends, not reads: checked in IntuneGraphClient.test.ts against what it sends. */
const REQUESTS = /-request(-|$)/;

const schemaFor = (name: string): z.ZodType | undefined => ANSWERS.find(([pattern]) => pattern.test(name))?.[1];

describe('Intune schemas read every documented Graph answer', () => {
  it('has a schema for every answer fixture, and each parses', () => {
    const names = intune.names();
    assert.ok(names.length >= 20, `the documented fixtures are there (${names.length})`);
    for (const name of names) {
      if (REQUESTS.test(name)) continue;
      const schema = schemaFor(name);
      assert.ok(schema, `${name}: no schema reads it`);
      const parsed = schema.safeParse(intune.load(name));
      assert.ok(parsed.success, `${name}: ${parsed.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
  });

  it('reads a vppToken whether Graph wraps it in "value" (the get page) or not (create, and Graph itself)', () => {
    const wrapped = entitySchema(vppTokenSchema).parse(intune.load('vpptoken-get-response'));
    const unwrapped = entitySchema(vppTokenSchema).parse(intune.load('vpptoken-get-response-unwrapped-constructed'));
    const created = entitySchema(vppTokenSchema).parse(intune.load('vpptoken-create-response'));
    assert.deepEqual(wrapped, unwrapped);
    assert.equal(created.id, '9ceb2f92-2f92-9ceb-922f-eb9c922feb9c');
    assert.deepEqual(wrapped, {
      id: '9ceb2f92-2f92-9ceb-922f-eb9c922feb9c',
      organizationName: 'Organization Name value',
      accountType: 'education',
      appleId: 'Apple Id value',
      // Graph's offset time, written back in UTC.
      expirationDateTime: '2017-01-01T07:57:57.248Z',
      lastSyncDateTime: '2017-01-01T08:02:49.320Z',
      lastModifiedDateTime: '2017-01-01T08:00:35.132Z',
      state: 'valid',
      lastSyncStatus: 'inProgress',
      countryOrRegion: 'Country Or Region value',
      displayName: undefined,
      locationName: undefined,
      tokenActionResults: undefined,
    });
  });

  it('never keeps the token string Graph echoes in a vppToken', () => {
    for (const name of intune.names().filter((n) => /^vpptoken/.test(n) && !REQUESTS.test(n))) {
      const parsed: unknown = schemaFor(name)?.parse(intune.load(name));
      assert.ok(!JSON.stringify(parsed).includes('Token value'), name);
    }
  });

  it("reads beta's duplicateLocationId, display name and location, and an unknown state as unknown", () => {
    const [token] = collectionSchema(vppTokenSchema).parse(intune.load('vpptokens-list-duplicate-location-beta-constructed')).value;
    assert.equal(token?.state, 'duplicateLocationId');
    assert.equal(token?.displayName, 'Display Name value');
    assert.equal(token?.locationName, 'Location Name value');
    const body = intune.load<{ value: Json[] }>('vpptokens-list-response-beta');
    const later = { ...body.value[0], state: 'someStateAddedLater', lastSyncStatus: 'unknownFutureValue', lastSyncDateTime: '0001-01-01T00:00:00Z' };
    const read = vppTokenSchema.parse(later);
    assert.equal(read.state, 'unknown');
    assert.equal(read.lastSyncStatus, 'none');
    assert.equal(read.lastSyncDateTime, undefined, "Intune's 0001-01-01 means never");
  });

  it("reads beta's tokenActionResults: each action's state and times, and the failure reason a derived type carries", () => {
    const [listed] = collectionSchema(vppTokenSchema).parse(intune.load('vpptokens-list-response-beta')).value;
    assert.deepEqual(listed?.tokenActionResults, [
      { actionName: 'Action Name value', actionState: 'pending', startDateTime: '2017-01-01T07:58:46.715Z', lastUpdatedDateTime: '2017-01-01T08:00:56.832Z' },
    ]);

    // The resource pages' JSON representations: a base vppTokenActionResult for a failed sync, and the derived
    // vppTokenRevokeLicensesActionResult with its license counts and actionFailureReason.
    const body = intune.load<{ value: Json[] }>('vpptokens-list-response-beta');
    const failed = vppTokenSchema.parse({
      ...body.value[0],
      lastSyncStatus: 'failed',
      tokenActionResults: [
        { '@odata.type': 'microsoft.graph.vppTokenActionResult', actionName: 'syncLicenses', actionState: 'failed', startDateTime: '2026-03-02T06:00:00Z', lastUpdatedDateTime: '2026-03-02T06:00:04Z' },
        {
          '@odata.type': '#microsoft.graph.vppTokenRevokeLicensesActionResult',
          actionName: 'revokeLicenses',
          actionState: 'failed',
          startDateTime: '2026-03-02T06:01:00Z',
          lastUpdatedDateTime: '2026-03-02T06:01:02Z',
          totalLicensesCount: 12,
          failedLicensesCount: 12,
          actionFailureReason: 'expiredApplePushNotificationCertificate',
        },
      ],
    });
    assert.deepEqual(failed.tokenActionResults, [
      { actionName: 'syncLicenses', actionState: 'failed', startDateTime: '2026-03-02T06:00:00.000Z', lastUpdatedDateTime: '2026-03-02T06:00:04.000Z' },
      {
        actionName: 'revokeLicenses',
        actionState: 'failed',
        startDateTime: '2026-03-02T06:01:00.000Z',
        lastUpdatedDateTime: '2026-03-02T06:01:02.000Z',
        actionFailureReason: 'expiredApplePushNotificationCertificate',
        totalLicensesCount: 12,
        failedLicensesCount: 12,
      },
    ]);
  });

  it('reads action results leniently: a value added later says nothing, a result it cannot read is left out, the token stays', () => {
    const body = intune.load<{ value: Json[] }>('vpptokens-list-response-beta');
    const read = vppTokenSchema.parse({
      ...body.value[0],
      tokenActionResults: [
        { actionName: 'syncLicenses', actionState: 'someStateAddedLater', actionFailureReason: 'someReasonAddedLater', lastUpdatedDateTime: '2026-03-02T06:00:04Z' },
        { actionName: 'syncLicenses', actionState: 'failed', lastUpdatedDateTime: 'yesterday' },
        'not a result',
      ],
    });
    assert.deepEqual(read.tokenActionResults, [{ actionName: 'syncLicenses', actionState: 'none', lastUpdatedDateTime: '2026-03-02T06:00:04.000Z' }]);
    assert.equal(vppTokenSchema.parse({ ...body.value[0], tokenActionResults: null }).tokenActionResults, undefined);
    assert.equal(vppTokenSchema.parse({ ...body.value[0], tokenActionResults: 'garbage' }).id, '9ceb2f92-2f92-9ceb-922f-eb9c922feb9c');
  });

  it('refuses a vppToken without its id, account type or expiry', () => {
    const token = intune.load<{ value: Json[] }>('vpptokens-list-response').value[0] as Json;
    for (const key of ['id', 'vppTokenAccountType', 'expirationDateTime']) {
      const { [key]: _dropped, ...rest } = token;
      assert.equal(vppTokenSchema.safeParse(rest).success, false, key);
    }
    assert.equal(vppTokenSchema.safeParse({ ...token, expirationDateTime: 'date-time' }).success, false);
  });

  it('reads iosVppEBooks with their token and counts, and leaves other managedEBooks out', () => {
    const page = collectionSchema(managedEBookSchema).parse(intune.load('iosvppebooks-list-page1-constructed'));
    const [first, second] = page.value as IntuneEBook[];
    assert.equal(page['@odata.nextLink']?.startsWith('https://graph.microsoft.com/v1.0/deviceAppManagement/managedEBooks?$skiptoken='), true);
    assert.deepEqual(first, {
      id: '3b9f627e-627e-3b9f-7e62-9f3b7e629f3b',
      displayName: 'Display Name value',
      publisher: 'Publisher value',
      description: 'Description value',
      informationUrl: 'https://example.com/informationUrl/',
      largeCover: { type: 'Type value', value: 'dmFsdWU=' },
      vppTokenId: '9148ac60-ac60-9148-60ac-489160ac4891',
      appleId: 'Apple Id value',
      vppOrganizationName: 'Vpp Organization Name value',
      totalLicenseCount: 1,
      usedLicenseCount: 0,
      lastModifiedDateTime: '2017-01-01T08:00:35.132Z',
    });
    assert.equal(second?.largeCover, undefined, 'a null cover');
    assert.equal(second?.informationUrl, undefined);
    assert.deepEqual(collectionSchema(managedEBookSchema).parse(intune.load('managedebooks-list-response')).value, [undefined], 'the abstract managedEBook is no iOS book');
  });

  it('fails an iosVppEBook without its license counts rather than passing it as another kind of book', () => {
    const book = intune.load<{ value: Json }>('iosvppebook-get-response').value;
    const { totalLicenseCount: _total, ...withoutCount } = book;
    assert.equal(managedEBookSchema.safeParse(withoutCount).success, false);
    assert.equal(managedEBookSchema.safeParse({ ...book, '@odata.type': 'microsoft.graph.iosVppEBook', usedLicenseCount: -1 }).success, false);
  });

  it('keeps assignment targets whole, with the "#" on their type, and refuses an intent it does not know', () => {
    const page = intune.load<{ value: Array<{ id: string; target: { '@odata.type': string } }> }>('iosvppebookassignments-list-response');
    const documented = collectionSchema(eBookAssignmentSchema).parse(page).value;
    const [raw] = page.value;
    assert.ok(raw && !raw.target['@odata.type'].startsWith('#'), 'the page writes the target type without "#"');
    assert.deepEqual(documented, [{ id: raw.id, installIntent: 'required', target: { '@odata.type': `#${raw.target['@odata.type']}` } }]);
    const groups = collectionSchema(eBookAssignmentSchema).parse(intune.load('iosvppebookassignments-list-groups-constructed')).value;
    assert.deepEqual(
      groups.map((a) => [a.installIntent, a.target['@odata.type'], a.target.groupId]),
      [
        ['available', GROUP_TARGET, '7d1e3c52-9a0b-4f6e-8c21-3b5a9e0f4d17'],
        ['required', GROUP_TARGET, '4562bcc8-c436-4f95-b7c0-4f8ce89dca5e'],
      ],
    );
    const filtered = eBookAssignmentSchema.parse({
      installIntent: 'available',
      target: { '@odata.type': '#microsoft.graph.groupAssignmentTarget', groupId: 'g', deviceAndAppManagementAssignmentFilterId: 'f', deviceAndAppManagementAssignmentFilterType: 'include' },
    });
    assert.deepEqual(filtered.target, { '@odata.type': GROUP_TARGET, groupId: 'g', deviceAndAppManagementAssignmentFilterId: 'f', deviceAndAppManagementAssignmentFilterType: 'include' });
    assert.equal(eBookAssignmentSchema.safeParse({ installIntent: 'someday', target: { '@odata.type': GROUP_TARGET } }).success, false);
  });

  it("keeps a beta target's filter defaults and unknown properties exactly as read, so `assign` sends them back unchanged", () => {
    const target = {
      '@odata.type': 'microsoft.graph.allDevicesAssignmentTarget',
      deviceAndAppManagementAssignmentFilterId: null,
      deviceAndAppManagementAssignmentFilterType: 'none',
      futureProperty: { nested: [1, 'two'] },
    };
    const read = eBookAssignmentSchema.parse({ id: 'a1', installIntent: 'required', target });
    assert.deepEqual(read, { id: 'a1', installIntent: 'required', target: { ...target, '@odata.type': '#microsoft.graph.allDevicesAssignmentTarget' } });
    // A filter type Graph adds later is kept as written, not refused or changed.
    const later = eBookAssignmentSchema.parse({ installIntent: 'available', target: { '@odata.type': GROUP_TARGET, groupId: 'g', deviceAndAppManagementAssignmentFilterId: 'f', deviceAndAppManagementAssignmentFilterType: 'includeDevices' } });
    assert.equal(later.target.deviceAndAppManagementAssignmentFilterType, 'includeDevices');
    assert.equal(eBookAssignmentSchema.safeParse({ installIntent: 'required', target: { '@odata.type': GROUP_TARGET, deviceAndAppManagementAssignmentFilterId: 42 } }).success, false, 'a filter id is a string');
  });

  it('reads the install summary (wrapped as documented), device states and user summaries', () => {
    assert.deepEqual(entitySchema(eBookInstallSummarySchema).parse(intune.load('ebookinstallsummary-get-response')), {
      installedDeviceCount: 4,
      failedDeviceCount: 1,
      notInstalledDeviceCount: 7,
      installedUserCount: 2,
      failedUserCount: 15,
      notInstalledUserCount: 5,
    });
    const [device] = collectionSchema(deviceInstallStateSchema).parse(intune.load('deviceinstallstates-list-response')).value;
    assert.equal(device?.installState, 'installed');
    assert.equal(device?.errorCode, 'Error Code value');
    assert.equal(deviceInstallStateSchema.parse({ ...(device as object), installState: 'pendingSomething' }).installState, 'unknown');
    const [user] = collectionSchema(userInstallStateSummarySchema).parse(intune.load('userinstallstatesummaries-list-response')).value;
    assert.deepEqual(user, { id: '1e5b41ba-41ba-1e5b-ba41-5b1eba415b1e', userName: 'User Name value', installedDeviceCount: 4, failedDeviceCount: 1, notInstalledDeviceCount: 7 });
  });

  it("reads Graph's error envelope with its request id, also from the throttling page", () => {
    const throttled = graphErrorSchema.parse(intune.load('throttled-429'));
    assert.equal(throttled.error.code, 'TooManyRequests');
    assert.equal(throttled.error.innerError?.['request-id'], '94fb3b52-452a-4535-a601-69e0a90e3aa2');
    assert.equal(graphErrorSchema.parse(intune.load('error-intune-bad-request-observed')).error.code, 'BadRequest');
  });
});
