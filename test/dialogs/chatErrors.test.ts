import { strict as assert } from 'node:assert';
import { isExpectedError, toChatError } from '../../dialogs/chatErrors';
import { VppError } from '../../services/apple/VppError';
import { DirectoryPermissionError, DirectoryUnavailableError } from '../../services/directory/errors';
import { ConfigError, UserFacing, UserFacingError } from '../../services/errors';
import { TokenDecryptionError } from '../../services/crypto/errors';
import { StoreConcurrencyError } from '../../services/store/errors';

const INCIDENT = /^Something went wrong on my side and nothing was changed\. Please try again; if it keeps happening, give your administrator incident ([0-9a-f]{8})\.$/;

describe('chat errors', () => {
  it('shows the admin text of every user-facing error, each with its stable code', () => {
    const ours = new UserFacingError('That group has no users.', 'group_empty');
    const apple = new VppError({ errorNumber: 9621, httpStatus: 400 });
    const graph = new DirectoryPermissionError('GroupMember.Read.All', 'read the group');
    for (const [err, code] of [
      [ours, 'group_empty'],
      [apple, 'vpp_9621'],
      [graph, 'graph_permission_missing'],
    ] as const) {
      assert.ok(err instanceof UserFacing);
      assert.equal(err.code, code);
      assert.equal(isExpectedError(err), true);
      assert.deepEqual(toChatError(err), { text: err.userMessage });
    }
    assert.equal(toChatError(ours).text, 'That group has no users.');
    assert.match(toChatError(apple).text, /^This VPP token has expired, so Apple refuses every request made with it\. Download a new token/);
  });

  it("shows a directory error's advice without the technical detail its log message carries", () => {
    const err = new DirectoryUnavailableError(503, 'GET /v1.0/groups answered 503 after 4 tries');
    assert.match(err.message, /answered 503/);
    const { text, incidentId } = toChatError(err);
    assert.equal(text, 'Microsoft Graph is busy or unreachable right now, so I could not read the directory. Nothing was changed; please try again in a few minutes.');
    assert.equal(incidentId, undefined);
  });

  it('shows nothing of an error that is not user-facing: an incident id instead', () => {
    // A lookalike is not the contract: text that merely sits in a `userMessage` field is never shown.
    const lookalike = Object.assign(new Error('internal'), { userMessage: 'shown?', code: 'x' });
    const errors = [
      new Error('cannot read properties of undefined (secret=abc)'),
      lookalike,
      new TokenDecryptionError('Cannot decrypt with key "k1"', 'tampered'),
      new StoreConcurrencyError('assignmentRun', 'r1', 5),
      new ConfigError('TOKEN_ENCRYPTION_KEY must be 32 bytes'),
      'a string',
      undefined,
    ];
    for (const err of errors) {
      assert.equal(isExpectedError(err), false);
      const { text, incidentId } = toChatError(err);
      const match = INCIDENT.exec(text);
      assert.ok(match, text);
      assert.equal(match[1], incidentId);
    }
  });

  it('says the database is unreachable when Cosmos is down', () => {
    const outage = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', diagnostics: {} });
    const { text, incidentId } = toChatError(outage);
    assert.ok(incidentId);
    assert.equal(text, `I cannot reach my database right now, so nothing was changed. Please try again in a few minutes; if it keeps happening, give your administrator incident ${incidentId}.`);
    assert.equal(isExpectedError(outage), false);
  });
});
