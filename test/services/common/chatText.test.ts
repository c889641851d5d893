import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { DEMO_TOKEN_FILES, DEMO_TOKENS } from '../../../local/appleSandbox/demoData';
import { ECHO_MAX_LENGTH, echoArgument, escapeMarkdown, looksLikeToken, markdownLink, TOKEN_NOT_REPEATED } from '../../../services/common/chatText';

/** What a CommonMark renderer shows for backslash escapes: `\X` is X for any ASCII punctuation X. */
const unescape = (markdown: string): string => markdown.replace(/\\([!-/:-@[-`{-~])/g, '$1');

/** Markdown that would still act: an unescaped emphasis, link, code, strikethrough or HTML character. */
const ACTIVE = /(^|[^\\])(\\\\)*[*_[\]`~<]/;

describe('chat text', () => {
  describe('escapeMarkdown', () => {
    const table: Array<[string, string]> = [
      // Ordinary names come back as they are: no backslash for a renderer to show.
      ['Year 7 - Group A', 'Year 7 - Group A'],
      ["St. Mary's", "St. Mary's"],
      ['Smith & Jones (Maths)', 'Smith & Jones (Maths)'],
      ['Form 9A: Science!', 'Form 9A: Science!'],
      ['Café Ünïcode 図書', 'Café Ünïcode 図書'],
      ['C# for beginners', 'C# for beginners'],
      ['1984', '1984'],
      ['a + b = c', 'a + b = c'],
      // What would format or link is escaped.
      ['**Everyone** [click](https://evil.example)', '\\*\\*Everyone\\*\\* \\[click\\](https://evil.example)'],
      ['_italic_ and `code`', '\\_italic\\_ and \\`code\\`'],
      ['~~struck~~', '\\~\\~struck\\~\\~'],
      ['![img](https://evil.example/x.png)', '!\\[img\\](https://evil.example/x.png)'],
      ['<at>Everyone</at>', '\\<at>Everyone\\</at>'],
      ['<https://evil.example>', '\\<https://evil.example>'],
      ['back\\slash', 'back\\\\slash'],
      ['&#42;&#42;bold&#42;&#42; &amp; more', '\\&#42;\\&#42;bold\\&#42;\\&#42; \\&amp; more'],
      // Line starts: a list item, a heading, a quote; line breaks would start new lines, so they become spaces.
      ['- Everyone', '\\- Everyone'],
      ['+ Everyone', '\\+ Everyone'],
      ['# Heading', '\\# Heading'],
      ['> quoted', '\\> quoted'],
      ['7. Form', '7\\. Form'],
      ['12) Form', '12\\) Form'],
      ['Group\n- [x](https://evil.example)', 'Group - \\[x\\](https://evil.example)'],
      ['  padded\r\n\tname  ', 'padded name'],
    ];
    for (const [name, expected] of table) {
      it(`${JSON.stringify(name)} → ${JSON.stringify(expected)}`, () => {
        assert.equal(escapeMarkdown(name), expected);
      });
    }

    it('always shows the name as written (on one line) and leaves nothing that would format it', () => {
      fc.assert(
        fc.property(fc.string({ unit: fc.constantFrom(...'ab 7.-+#>*_[]()`~<&;!\\|\n'.split('')), maxLength: 40 }), (name) => {
          const escaped = escapeMarkdown(name);
          assert.equal(unescape(escaped), name.replace(/\s+/g, ' ').trim());
          assert.doesNotMatch(escaped, ACTIVE);
          assert.doesNotMatch(escaped, /^(\d+[.)]|[-+#>])/);
          assert.ok(!escaped.includes('\n'));
        }),
      );
    });
  });

  describe('looksLikeToken', () => {
    it('recognises a .vpptoken file, its inner token and the decoded JSON', () => {
      const file = DEMO_TOKEN_FILES['demo-valid.vpptoken'];
      assert.ok(looksLikeToken(file));
      assert.ok(looksLikeToken(DEMO_TOKENS.valid.token));
      assert.ok(looksLikeToken(Buffer.from(file, 'base64').toString('utf8')));
      assert.ok(looksLikeToken(`Northwind ${DEMO_TOKENS.valid.token.slice(0, 40)} please`));
    });

    it('takes titles, names, addresses and rows of one key for what they are', () => {
      for (const text of ['The Swift Programming Language', 'Northwind Academy (Main Campus)', 'vpp-admin@northwind.example', 'https://evil.example/a/long/path/to/something', 'Year 7 - Group A', 'x'.repeat(39), 'x'.repeat(900 * 1024), '-'.repeat(80), 'Pneumonoultramicroscopicsilicovolcanoconiosis-and-more']) {
        assert.ok(!looksLikeToken(text), text.slice(0, 80));
      }
    });
  });

  describe('echoArgument', () => {
    it('quotes, escapes and shortens what was typed', () => {
      assert.equal(echoArgument('Moby Dick'), '"Moby Dick"');
      const long = `**Everyone** [click](https://evil.example) ${'and more '.repeat(10)}`;
      const echoed = echoArgument(long);
      assert.ok(echoed.startsWith('"\\*\\*Everyone\\*\\* \\[click\\](https://evil.example)'), echoed);
      assert.ok(echoed.endsWith('…"'), echoed);
      assert.ok(unescape(echoed).length <= ECHO_MAX_LENGTH + 2, 'at most the limit, in quotes');
    });

    it('never repeats a token', () => {
      for (const text of [DEMO_TOKEN_FILES['demo-valid.vpptoken'], DEMO_TOKENS.valid.token, `Northwind ${DEMO_TOKENS.valid.token}`]) {
        // Compared without assert.equal, whose failure message would quote the token.
        assert.ok(echoArgument(text) === TOKEN_NOT_REPEATED, 'a token-like argument is replaced by the phrase');
      }
    });
  });

  describe('markdownLink', () => {
    it('links web addresses only, and the address cannot end the link early', () => {
      assert.equal(markdownLink('invitation link', 'https://apple.example/invite?code=1'), '[invitation link](https://apple.example/invite?code=1)');
      assert.equal(markdownLink('x', 'https://apple.example/a)b(c'), '[x](https://apple.example/a%29b%28c)');
      assert.equal(markdownLink('**x**', 'javascript:alert(1)'), '\\*\\*x\\*\\*');
      assert.equal(markdownLink('x', 'not a url'), 'x');
    });
  });
});
