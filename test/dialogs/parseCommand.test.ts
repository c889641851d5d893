import { strict as assert } from 'node:assert';
import { parseCommand } from '../../dialogs/parseCommand';

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
});
