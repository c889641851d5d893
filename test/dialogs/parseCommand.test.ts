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
    // A pasted token is dropped whole: no command runs with it and nothing carries it further.
    [`sync ${DEMO_TOKENS.valid.token}`, { kind: 'tokenLike' }],
    [`status ${DEMO_TOKEN_FILES['demo-valid.vpptoken']}`, { kind: 'tokenLike' }],
    [`revoke ${DEMO_TOKENS.valid.token}`, { kind: 'tokenLike' }],
    [DEMO_TOKEN_FILES['demo-valid.vpptoken'], { kind: 'tokenLike' }],
  ];
  for (const [input, expected] of cases) {
    // Long inputs are tokens: the test's name does not spell them out.
    it(`reads ${input && input.length > 50 ? `${input.split(' ')[0]?.slice(0, 8) ?? ''}… (${input.length} characters)` : JSON.stringify(input)} as ${expected.kind}`, () => {
      assert.deepEqual(parseCommand(input), expected);
    });
  }
});
