import { strict as assert } from 'node:assert';
import { parseCommand, suggestCommands } from '../../dialogs/parseCommand';
import { COMMANDS } from '../../dialogs/commandCatalog';
import { memberCommands } from '../../dialogs/members/memberCommands';
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
    // Compared as names are: full-width letters, accents and case do not count; the argument stays as typed.
    ['ＴＯＫＥＮＳ', { kind: 'command', command: 'tokens', argument: '' }],
    ['Upload\u00A0Token', { kind: 'command', command: 'upload token', argument: '' }],
    ['Státus  Les Misérables – Tome 1', { kind: 'command', command: 'status', argument: 'Les Misérables – Tome 1' }],
    ['UNASSIGN Moby Dick', { kind: 'irrevocable', verb: 'unassign' }],
    ['remove assignment', { kind: 'irrevocable', verb: 'remove assignment' }],
    ['remove Northwind', { kind: 'command', command: 'remove', argument: 'Northwind' }],
    ['my books', { kind: 'command', command: 'my books', argument: '' }],
    ['mybooks', { kind: 'unknown', text: 'mybooks' }],
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

describe('suggestCommands', () => {
  const everything = COMMANDS.map((c) => c.command);
  const typos: Array<[string, string, string[]]> = [
    ['hlep', 'hlep', ['help']],
    ['tokns', 'tokns', ['tokens']],
    ['snyc', 'snyc', ['sync']],
    ['snyc northwind', 'snyc', ['sync']],
    ['Uplaod token', 'Uplaod token', ['upload token']],
    ['aprovals', 'aprovals', ['approvals']],
    ['my boks', 'my boks', ['my books']],
    // An alias mistyped is its command: "uplod" is one letter from "upload".
    ['uplod', 'uplod', ['upload token']],
  ];
  for (const [typed, quoted, commands] of typos) {
    it(`suggests ${commands.join(' and ')} for ${JSON.stringify(typed)}`, () => {
      const suggestion = suggestCommands(typed, everything);
      assert.deepEqual(suggestion && { typed: suggestion.typed, commands: [...suggestion.commands].sort() }, { typed: quoted, commands });
    });
  }

  for (const far of ['hello', 'hi', 'synchronise everything', 'sink', 'what can you do', 'help', 'xyz']) {
    it(`suggests nothing for ${JSON.stringify(far)}`, () => {
      assert.equal(suggestCommands(far, everything), undefined);
    });
  }

  it('suggests every command equally close', () => {
    assert.deepEqual(suggestCommands('synk', ['sync', 'sink', 'help'])?.commands, ['sync', 'sink']);
  });

  it('suggests only the commands given: a member is not pointed at sync or tokens', () => {
    assert.equal(suggestCommands('snyc', memberCommands(false)), undefined);
    assert.equal(suggestCommands('tokns', memberCommands(true)), undefined);
    assert.equal(suggestCommands('aprovals', memberCommands(false)), undefined);
    assert.deepEqual(suggestCommands('aprovals', memberCommands(true))?.commands, ['approvals']);
    assert.deepEqual(suggestCommands('hlep', memberCommands(false))?.commands, ['help']);
  });
});
