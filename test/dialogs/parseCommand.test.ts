import { strict as assert } from 'node:assert';
import { parseCommand } from '../../dialogs/parseCommand';
import { DEMO_TOKEN_FILES, DEMO_TOKENS } from '../../local/appleSandbox/demoData';

describe('parseCommand', () => {
  const cases: Array<[string | undefined, ReturnType<typeof parseCommand>]> = [
    ['help', { kind: 'command', command: 'help', argument: '' }],
    ['  HELP  ', { kind: 'command', command: 'help', argument: '' }],
    ['?', { kind: 'command', command: 'help', argument: '' }],
    ['<at>VPP Books</at> tokens', { kind: 'command', command: 'tokens', argument: '' }],
    ['upload token', { kind: 'command', command: 'upload token', argument: '' }],
    ['upload', { kind: 'command', command: 'upload token', argument: '' }],
    ['status The Swift Programming Language', { kind: 'command', command: 'status', argument: 'The Swift Programming Language' }],
    ['sync all', { kind: 'command', command: 'sync', argument: 'all' }],
    ['revoke Moby Dick from Sales', { kind: 'irrevocable', verb: 'revoke' }],
    ['unassign', { kind: 'irrevocable', verb: 'unassign' }],
    ['', { kind: 'empty' }],
    [undefined, { kind: 'empty' }],
    ['synchronise everything', { kind: 'unknown', text: 'synchronise everything' }],
  ];
  for (const [input, expected] of cases) {
    it(`reads ${JSON.stringify(input)} as ${expected.kind}`, () => {
      assert.deepEqual(parseCommand(input), expected);
    });
  }

  // A pasted token is dropped whole: no command runs with it and nothing carries it further. Neither the
  // test's name nor its failure message spells the token out.
  const pasted: Array<[string, string]> = [
    ['sync <token>', `sync ${DEMO_TOKENS.valid.token}`],
    ['status <token file>', `status ${DEMO_TOKEN_FILES['demo-valid.vpptoken']}`],
    ['revoke <token>', `revoke ${DEMO_TOKENS.valid.token}`],
    ['<token file> alone', DEMO_TOKEN_FILES['demo-valid.vpptoken']],
  ];
  for (const [name, input] of pasted) {
    it(`reads ${name} as tokenLike`, () => {
      const parsed = parseCommand(input);
      assert.ok(parsed.kind === 'tokenLike' && Object.keys(parsed).length === 1, `${name} was read as ${parsed.kind}`);
    });
  }
});
