/**
 * A static scan of what the bot says for the rules of docs/STYLE-GUIDE.md that a machine can check
 * without guessing: the card templates (cards/*.json) and the user-facing string literals of cards/,
 * dialogs/, services/ and bot/. It reads source, not output, so that a message nobody's test sends is
 * checked too. Each rule is narrow enough to have no false positives on the code; what it cannot decide
 * (tone, wording) stays with review.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

export type RuleId =
  | 'american-spelling'
  | 'licence'
  | 'apple-id'
  | 'content-token'
  | 'iso-date'
  | 'menu-path'
  | 'text-colour'
  | 'unformatted-count'
  | 'hand-rolled-format'
  | 'command-not-bold';

/** What to do instead: the failure message names it next to each finding. */
export const RULES: Readonly<Record<RuleId, string>> = {
  'american-spelling': 'our own words are British: "organisation", "cancelled" ("Apps and Books for Organizations" is Apple\'s name and stays)',
  licence: 'Apple writes "license" (noun and verb); so do we',
  'apple-id': 'Apple renamed Apple ID to "Apple Account" (and "Managed Apple Account") in 2024',
  'content-token': 'our word is "VPP token"; Apple\'s "Content Tokens" label comes from services/common/appleTerms.ts',
  'iso-date': 'dates in text are formatDate()/formatDateTime() from services/common/format.ts ("30 Jun 2036", "30 Jun 2036, 14:05 UTC")',
  'menu-path': "Apple's menu paths come from services/common/appleTerms.ts (WHERE_TOKENS_ARE_DOWNLOADED), never typed by hand",
  'text-colour': 'text is Default or Accent: Good, Warning and Attention fail WCAG AA contrast in one of Teams\' themes (say it with words and an emoji)',
  'unformatted-count': 'counts in text go through formatCount() ("1,621")',
  'hand-rolled-format': 'dates and numbers are formatted by services/common/format.ts only',
  'command-not-bold': 'a command to type is bold: type **assign**',
};

export interface Finding {
  /** Relative to the repository root, with forward slashes. */
  file: string;
  line: number;
  rule: RuleId;
  /** The offending text, shortened. */
  text: string;
}

/** The modules that hold the formats and Apple's words: the only places allowed to spell them out. */
const SOURCES_OF_TRUTH: Readonly<Partial<Record<RuleId, readonly string[]>>> = {
  'menu-path': ['services/common/appleTerms.ts'],
  'content-token': ['services/common/appleTerms.ts'],
  'hand-rolled-format': ['services/common/format.ts'],
};

/** Apple's and Microsoft's names, written their way; removed before our own words are checked. */
const PRODUCT_TERMS = [/Apps and Books for Organizations/g];

const AMERICAN = /\b(?:[Oo]rganiz(?:ation|ations|ational|ationally|e|ed|es|ing)|[Cc]ancel(?:ed|ing)|[Bb]ehavior)\b/;
/** A single capitalised "Organization" is a label (a fact title, a heading): caught even without a sentence around it. */
const AMERICAN_LABEL = /\bOrganization\b/;
const LICENCE = /\b[Ll]icen[c]e(?:s|d)?\b/;
const APPLE_ID = /\bApple IDs?\b/;
const CONTENT_TOKEN = /\b[Cc]ontent [Tt]okens?\b/;
const ISO_DATE = /\b\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b/;
const MENU_PATH = /Payments\s*(?:and|&)\s*Billing|\b(?:Settings|Preferences)\s*(?:>|→|›|»)/;
const COMMANDS = ['upload token', 'my books', 'approvals', 'reconcile', 'tokens', 'assign', 'status', 'resume', 'cancel', 'renew', 'remove', 'books', 'sync', 'help'];
const COMMAND_NOT_BOLD = new RegExp(`\\b[Tt]ype\\s+(?!\\*\\*)["'“]?(?:${COMMANDS.join('|')})\\b`);

/** Adaptive Card text colours that pass 4.5:1 on both Teams themes (docs/STYLE-GUIDE.md, "Colour"). */
const SAFE_TEXT_COLOURS = new Set(['default', 'accent']);
/**
 * The unsafe text colours as code writes them for a TextBlock (the schema's spelling). Chart colours are
 * lower case ('attention', 'categoricalBlue'): they colour bars and segments, graphics the rule is not about.
 */
const UNSAFE_TEXT_COLOUR_VALUES = new Set(['Good', 'Warning', 'Attention', 'Light', 'Dark']);
/** Card elements whose `color` colours text. */
const TEXT_ELEMENTS = new Set(['TextBlock', 'TextRun']);

/** Card properties a person reads. */
const CARD_TEXT_KEYS = new Set(['text', 'title', 'value', 'altText', 'label', 'placeholder', 'fallbackText', 'errorMessage', 'speak']);

/** Two words or more: a sentence or a phrase, not an identifier, a path, a query key or a file name. */
function isProse(text: string): boolean {
  return text.split(/\s+/).filter((word) => /[A-Za-z]{2,}/.test(word)).length >= 2;
}

function short(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > 100 ? `${oneLine.slice(0, 97)}...` : oneLine;
}

/** The checks every piece of user text gets, in a template or in code. `label` text is a card's short label (always user text). */
function textRules(text: string, options: { prose: boolean }): RuleId[] {
  const own = PRODUCT_TERMS.reduce((t, term) => t.replace(term, ''), text);
  const rules: RuleId[] = [];
  if (AMERICAN_LABEL.test(own) || (options.prose && AMERICAN.test(own))) rules.push('american-spelling');
  if (APPLE_ID.test(own)) rules.push('apple-id');
  if (!options.prose) return rules;
  if (LICENCE.test(own)) rules.push('licence');
  if (CONTENT_TOKEN.test(own)) rules.push('content-token');
  if (ISO_DATE.test(own)) rules.push('iso-date');
  if (MENU_PATH.test(own)) rules.push('menu-path');
  if (COMMAND_NOT_BOLD.test(own)) rules.push('command-not-bold');
  return rules;
}

// ---------------------------------------------------------------- card templates

/** Findings in one card template (its JSON, parsed). */
export function scanCardTemplate(file: string, source: string): Finding[] {
  const findings: Finding[] = [];
  const lines = source.split('\n');
  const lineOf = (needle: string): number => {
    const index = lines.findIndex((l) => l.includes(needle));
    return index + 1;
  };
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      node.forEach(visit);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    const element = node as Record<string, unknown>;
    for (const [key, value] of Object.entries(element)) {
      if (typeof value === 'string' && CARD_TEXT_KEYS.has(key)) {
        for (const rule of textRules(value, { prose: true })) findings.push({ file, line: lineOf(value), rule, text: short(value) });
      }
    }
    const color = element.color;
    if (typeof element.type === 'string' && TEXT_ELEMENTS.has(element.type) && typeof color === 'string' && !color.includes('${')) {
      const unsafe = !SAFE_TEXT_COLOURS.has(color.toLowerCase());
      const subtleAccent = color.toLowerCase() === 'accent' && element.isSubtle === true;
      if (unsafe || subtleAccent) findings.push({ file, line: lineOf(`"${color}"`), rule: 'text-colour', text: `"color": "${color}"${subtleAccent ? ' with isSubtle' : ''}` });
    }
    Object.values(element).forEach(visit);
  };
  visit(JSON.parse(source));
  return findings;
}

// ---------------------------------------------------------------- TypeScript

/** Classes whose messages only operators and logs see: Error and what extends it, except the UserFacing family. */
const BUILT_IN_ERRORS = ['Error', 'TypeError', 'RangeError', 'SyntaxError', 'AggregateError'];

/** Names of error classes whose message is not user text, found across the scanned sources. */
export function internalErrorClasses(sources: ReadonlyArray<{ file: string; source: string }>): Set<string> {
  const parentOf = new Map<string, string>();
  for (const { file, source } of sources) {
    const sourceFile = ts.createSourceFile(file, source, ts.ScriptTarget.ES2022, true);
    const visit = (node: ts.Node): void => {
      if (ts.isClassDeclaration(node) && node.name) {
        const base = node.heritageClauses?.find((h) => h.token === ts.SyntaxKind.ExtendsKeyword)?.types[0]?.expression;
        if (base && ts.isIdentifier(base)) parentOf.set(node.name.text, base.text);
      }
      ts.forEachChild(node, visit);
    };
    visit(sourceFile);
  }
  const internal = new Set(BUILT_IN_ERRORS);
  for (const name of parentOf.keys()) {
    let current: string | undefined = name;
    const seen = new Set<string>();
    while (current !== undefined && !seen.has(current)) {
      seen.add(current);
      if (current === 'UserFacing') break;
      if (BUILT_IN_ERRORS.includes(current)) {
        internal.add(name);
        break;
      }
      current = parentOf.get(current);
    }
  }
  return internal;
}

const LOG_METHODS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'log']);

/** A number a person counts (licenses, members, days): the name says so, or arithmetic made it. */
const COUNT_NAME =
  /(?:^|[a-z])(?:Count|Total|Needed|Available|Reserved|Licensed|Failed|Assigned|Offered|Spent|Used|Approved|Joined|Asked|Told|Unreachable|Headroom|Budget|Left|Days|Invitation)$|^(?:count|total|needed|available|reserved|licensed|failed|assigned|offered|spent|used|approved|joined|asked|told|unreachable|headroom|budget|left|days|people)$/;

function unwrap(expression: ts.Expression): ts.Expression {
  let current = expression;
  for (;;) {
    if (ts.isParenthesizedExpression(current) || ts.isNonNullExpression(current) || ts.isAsExpression(current)) current = current.expression;
    else if (ts.isBinaryExpression(current) && current.operatorToken.kind === ts.SyntaxKind.QuestionQuestionToken) current = current.left;
    else return current;
  }
}

/** An expression that makes text: a string, a template, a call of a formatter, or a choice between them. */
function isText(expression: ts.Expression): boolean {
  const e = unwrap(expression);
  if (ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e) || ts.isTemplateExpression(e)) return true;
  if (ts.isConditionalExpression(e)) return isText(e.whenTrue) && isText(e.whenFalse);
  return ts.isCallExpression(e);
}

/** `const needed = formatCount(n)` makes `needed` text, whatever its name suggests: the variables of this module that hold text. */
function textVariables(sourceFile: ts.SourceFile): Set<string> {
  const names = new Set<string>();
  const visit = (node: ts.Node): void => {
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer && isText(node.initializer)) names.add(node.name.text);
    ts.forEachChild(node, visit);
  };
  visit(sourceFile);
  return names;
}

function looksLikeCount(expression: ts.Expression, textNames: ReadonlySet<string>): boolean {
  const e = unwrap(expression);
  if (ts.isPropertyAccessExpression(e)) return e.name.text === 'length' || e.name.text === 'size' || COUNT_NAME.test(e.name.text);
  if (ts.isIdentifier(e)) return COUNT_NAME.test(e.text) && !textNames.has(e.text);
  if (ts.isBinaryExpression(e)) {
    const op = e.operatorToken.kind;
    if (op === ts.SyntaxKind.MinusToken || op === ts.SyntaxKind.AsteriskToken || op === ts.SyntaxKind.SlashToken || op === ts.SyntaxKind.PercentToken) return true;
    if (op === ts.SyntaxKind.PlusToken) return looksLikeCount(e.left, textNames) && looksLikeCount(e.right, textNames);
    return false;
  }
  if (ts.isCallExpression(e)) {
    const callee = e.expression;
    return ts.isPropertyAccessExpression(callee) && ts.isIdentifier(callee.expression) && callee.expression.text === 'Math';
  }
  return false;
}

/** The name a value is given to (`color: 'Good'`, `const color = …`), through conditionals and `??`. */
function receivingName(node: ts.Node): string | undefined {
  let current: ts.Node = node;
  while (
    ts.isConditionalExpression(current.parent) ||
    ts.isParenthesizedExpression(current.parent) ||
    (ts.isBinaryExpression(current.parent) && (current.parent.operatorToken.kind === ts.SyntaxKind.QuestionQuestionToken || current.parent.operatorToken.kind === ts.SyntaxKind.BarBarToken))
  ) {
    current = current.parent;
  }
  const parent = current.parent;
  if ((ts.isPropertyAssignment(parent) || ts.isVariableDeclaration(parent) || ts.isParameter(parent) || ts.isPropertyDeclaration(parent)) && parent.initializer === current) {
    return ts.isIdentifier(parent.name) || ts.isStringLiteral(parent.name) ? parent.name.text : undefined;
  }
  if (ts.isBinaryExpression(parent) && parent.operatorToken.kind === ts.SyntaxKind.EqualsToken && parent.right === current) {
    const target = parent.left;
    if (ts.isIdentifier(target)) return target.text;
    if (ts.isPropertyAccessExpression(target)) return target.name.text;
  }
  return undefined;
}

/** True when the string is not text for a person: a module name, a type, a key, a log line or an internal error. */
function isNotUserText(node: ts.Node, internalErrors: ReadonlySet<string>): boolean {
  const parent = node.parent;
  if (ts.isPropertyAssignment(parent) && parent.name === node) return true;
  if (ts.isElementAccessExpression(parent) && parent.argumentExpression === node) return true;
  for (let current: ts.Node | undefined = parent; current; current = current.parent) {
    if (ts.isImportDeclaration(current) || ts.isExportDeclaration(current) || ts.isLiteralTypeNode(current) || ts.isExternalModuleReference(current)) return true;
    if (ts.isNewExpression(current) && ts.isIdentifier(current.expression) && internalErrors.has(current.expression.text)) return true;
    if (ts.isCallExpression(current)) {
      const callee = current.expression;
      if (ts.isPropertyAccessExpression(callee) && LOG_METHODS.has(callee.name.text)) return true;
      if (ts.isIdentifier(callee) && callee.text === 'require') return true;
    }
  }
  return false;
}

function literalText(node: ts.TemplateExpression): string {
  return node.head.text + node.templateSpans.map((span) => `…${span.literal.text}`).join('');
}

/** Findings in one TypeScript module. */
export function scanTypeScript(file: string, source: string, internalErrors: ReadonlySet<string> = new Set(BUILT_IN_ERRORS)): Finding[] {
  const sourceFile = ts.createSourceFile(file, source, ts.ScriptTarget.ES2022, true);
  const findings: Finding[] = [];
  const textNames = textVariables(sourceFile);
  const report = (node: ts.Node, rule: RuleId, text: string): void => {
    if (SOURCES_OF_TRUTH[rule]?.includes(file)) return;
    findings.push({ file, line: sourceFile.getLineAndCharacterOfPosition(node.getStart(sourceFile)).line + 1, rule, text: short(text) });
  };

  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateExpression(node)) {
      checkString(node);
    }
    if (ts.isNewExpression(node) && node.expression.getText(sourceFile).replace(/\s/g, '') === 'Intl.DateTimeFormat') {
      const options = node.arguments?.[1];
      if (options && /\b(?:dateStyle|timeStyle|month|weekday)\b/.test(options.getText(sourceFile))) report(node, 'hand-rolled-format', node.getText(sourceFile));
    }
    if (ts.isNewExpression(node) && node.expression.getText(sourceFile).replace(/\s/g, '') === 'Intl.NumberFormat') report(node, 'hand-rolled-format', node.getText(sourceFile));
    if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression)) {
      const method = node.expression.name.text;
      const locale = node.arguments[0];
      if (method === 'toLocaleDateString' || method === 'toLocaleTimeString') report(node, 'hand-rolled-format', node.getText(sourceFile));
      if (method === 'toLocaleString' && !(locale && ts.isStringLiteral(locale) && locale.text === 'en-GB')) report(node, 'hand-rolled-format', node.getText(sourceFile));
    }
    ts.forEachChild(node, visit);
  };

  const checkString = (node: ts.StringLiteral | ts.NoSubstitutionTemplateLiteral | ts.TemplateExpression): void => {
    const text = ts.isTemplateExpression(node) ? literalText(node) : node.text;
    if (!ts.isTemplateExpression(node) && UNSAFE_TEXT_COLOUR_VALUES.has(text)) {
      const name = receivingName(node);
      if (name !== undefined && /colou?r$/i.test(name) && !isNotUserText(node, internalErrors)) report(node, 'text-colour', `${name}: '${text}'`);
    }
    if (isNotUserText(node, internalErrors)) return;
    const prose = isProse(text);
    for (const rule of textRules(text, { prose })) report(node, rule, text);
    if (!ts.isTemplateExpression(node) || !prose) return;
    for (const span of node.templateSpans) {
      if (/\btoISOString\(/.test(span.expression.getText(sourceFile))) report(span.expression, 'iso-date', `\${${span.expression.getText(sourceFile)}}`);
      else if (looksLikeCount(span.expression, textNames)) report(span.expression, 'unformatted-count', `\${${span.expression.getText(sourceFile)}}`);
    }
  };

  visit(sourceFile);
  return findings;
}

// ---------------------------------------------------------------- the tree

/** Where user text lives (docs/STYLE-GUIDE.md): the scan's scope. */
const TEXT_DIRECTORIES = ['cards', 'dialogs', 'services', 'bot'];

function filesUnder(root: string, directory: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(root, directory), { withFileTypes: true })) {
    const relative = `${directory}/${entry.name}`;
    if (entry.isDirectory()) out.push(...filesUnder(root, relative));
    else out.push(relative);
  }
  return out;
}

/** Every finding in the repository at `root`, in file and line order. */
export function scanRepository(root: string): Finding[] {
  const files = TEXT_DIRECTORIES.flatMap((d) => filesUnder(root, d)).sort();
  const sources = files.filter((f) => f.endsWith('.ts')).map((file) => ({ file, source: readFileSync(path.join(root, file), 'utf8') }));
  const internalErrors = internalErrorClasses(sources);
  const findings = [
    ...files.filter((f) => /^cards\/[^/]+\.json$/.test(f)).flatMap((file) => scanCardTemplate(file, readFileSync(path.join(root, file), 'utf8'))),
    ...sources.flatMap(({ file, source }) => scanTypeScript(file, source, internalErrors)),
  ];
  return findings.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
}
