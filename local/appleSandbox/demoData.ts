import { encodeVppTokenFile, parseAppleDate } from '../../services/apple/VppTokenFile';
import type { NewBook, SandboxOrganisation, SandboxState } from './SandboxState';

/**
 * The demo organisations and token files. The files under sandbox/tokens/ hold exactly the content
 * computed here (a test checks it), so the sandbox recognises them by content.
 */

export const DEMO_ORG_NAME = 'Northwind Academy';
const OTHER_MDM_ORG_NAME = 'Fabrikam Public Library';
export const OTHER_MDM = { id: 'contoso-mdm-7d1e2f', name: 'Contoso MDM', metadata: 'contoso-tenant-42' };

/** Inner token values: obviously fake, long enough for the log scrubber. */
export const DEMO_TOKENS = {
  valid: { token: 'sandbox-demo-valid-northwind-0c5e1b7a9d3f4e26', expDate: '2036-06-30T23:59:59+0000', orgName: DEMO_ORG_NAME },
  expired: { token: 'sandbox-demo-expired-northwind-5a8c2e4f1b7d9e03', expDate: '2024-06-30T12:00:00+0000', orgName: DEMO_ORG_NAME },
  otherMdm: { token: 'sandbox-demo-other-mdm-fabrikam-8e2d4c6a0b1f3e57', expDate: '2036-03-31T08:00:00+0000', orgName: OTHER_MDM_ORG_NAME },
} as const;

export const DEMO_TOKEN_FILES = {
  'demo-valid.vpptoken': encodeVppTokenFile(DEMO_TOKENS.valid),
  'demo-expired.vpptoken': encodeVppTokenFile(DEMO_TOKENS.expired),
  'demo-other-mdm.vpptoken': encodeVppTokenFile(DEMO_TOKENS.otherMdm),
  // Valid Base64 and JSON, but without the `token` field: shows the "incomplete token" message.
  'demo-malformed.vpptoken': Buffer.from(JSON.stringify({ expDate: DEMO_TOKENS.valid.expDate, orgName: DEMO_ORG_NAME }), 'utf8').toString('base64'),
} as const;

type DemoBook = [adamId: string, title: string, author: string, totalCount: number | 'unlimited', assigned: number, pricing?: 'PLUS'];

/** Public-domain classics; some licenses already spent by users of a previous MDM, a few exhausted. */
const NORTHWIND_BOOKS: DemoBook[] = [
  ['1447212301', 'Pride and Prejudice', 'Jane Austen', 120, 14],
  ['1447212318', 'Moby-Dick', 'Herman Melville', 40, 3],
  ['1447212325', 'Frankenstein', 'Mary Shelley', 60, 8],
  ['1447212332', 'The Adventures of Sherlock Holmes', 'Arthur Conan Doyle', 75, 6],
  ['1447212349', "Alice's Adventures in Wonderland", 'Lewis Carroll', 30, 2],
  ['1447212356', 'Great Expectations', 'Charles Dickens', 25, 0],
  ['1447212363', 'A Tale of Two Cities', 'Charles Dickens', 5, 5],
  ['1447212370', 'Jane Eyre', 'Charlotte Brontë', 50, 4],
  ['1447212387', 'Wuthering Heights', 'Emily Brontë', 20, 1],
  ['1447212394', 'The Odyssey', 'Homer', 200, 12, 'PLUS'],
  ['1447212400', 'Little Women', 'Louisa May Alcott', 35, 0],
  ['1447212417', 'Adventures of Huckleberry Finn', 'Mark Twain', 45, 7],
  ['1447212424', 'The Picture of Dorian Gray', 'Oscar Wilde', 3, 3],
  ['1447212431', 'Dracula', 'Bram Stoker', 80, 9],
  ['1447212448', 'War and Peace', 'Leo Tolstoy', 10, 1],
  ['1447212455', 'Anna Karenina', 'Leo Tolstoy', 12, 0],
  ['1447212462', 'Crime and Punishment', 'Fyodor Dostoevsky', 18, 2],
  ['1447212479', 'The Count of Monte Cristo', 'Alexandre Dumas', 22, 0],
  ['1447212486', 'Les Misérables', 'Victor Hugo', 15, 1],
  ['1447212493', 'Emma', 'Jane Austen', 25, 3],
  ['1447212509', 'Sense and Sensibility', 'Jane Austen', 25, 0],
  ['1447212516', 'The Scarlet Letter', 'Nathaniel Hawthorne', 60, 5],
  ['1447212523', 'Treasure Island', 'Robert Louis Stevenson', 90, 11],
  ['1447212530', 'Strange Case of Dr Jekyll and Mr Hyde', 'Robert Louis Stevenson', 8, 8],
  ['1447212547', 'The Time Machine', 'H. G. Wells', 30, 2],
  ['1447212554', 'The War of the Worlds', 'H. G. Wells', 30, 0],
  ['1447212561', 'Twenty Thousand Leagues Under the Seas', 'Jules Verne', 25, 1],
  ['1447212578', 'Around the World in Eighty Days', 'Jules Verne', 40, 4],
  ['1447212585', 'The Call of the Wild', 'Jack London', 55, 6],
  ['1447212592', 'Heart of Darkness', 'Joseph Conrad', 10, 0],
  ['1447212608', 'Middlemarch', 'George Eliot', 6, 6],
  ['1447212615', 'The Secret Garden', 'Frances Hodgson Burnett', 100, 10],
  ['1447212622', 'Anne of Green Gables', 'L. M. Montgomery', 70, 5],
  ['1447212639', 'The Wind in the Willows', 'Kenneth Grahame', 45, 0],
  ['1447212646', 'Peter Pan', 'J. M. Barrie', 50, 3],
  ['1447212653', 'The Jungle Book', 'Rudyard Kipling', 65, 4],
  ['1447212660', 'On the Origin of Species', 'Charles Darwin', 20, 2, 'PLUS'],
  ['1447212677', 'The Federalist Papers', 'Alexander Hamilton, James Madison, John Jay', 150, 0],
  // A free book: Apple lists it with totalCount 2147483647 (unlimited licenses).
  ['1447212684', 'The Art of War', 'Sun Tzu', 'unlimited', 4],
];

const FABRIKAM_BOOKS: DemoBook[] = [
  ['1447219001', 'The Hound of the Baskervilles', 'Arthur Conan Doyle', 20, 2],
  ['1447219018', 'Robinson Crusoe', 'Daniel Defoe', 15, 1],
  ['1447219025', "Gulliver's Travels", 'Jonathan Swift', 10, 0],
  ['1447219032', 'The Iliad', 'Homer', 25, 3],
];

/** Users a previous MDM created; their clientUserIds are not ours, so the bot must not sync them. */
const LEGACY_USERS = 14;

function seedOrganisation(state: SandboxState, orgName: string, books: DemoBook[], locationName: string, mdmInfo?: typeof OTHER_MDM): SandboxOrganisation {
  const org = state.addOrganisation({
    orgName,
    locationName,
    mdmInfo: mdmInfo ? { ...mdmInfo } : undefined,
    books: books.map(([adamId, title, author, totalCount, , pricing]): NewBook => ({ adamId, title, author, totalCount, pricingParam: pricing ?? 'STDQ' })),
  });
  const legacy: string[] = [];
  for (let i = 0; i < LEGACY_USERS; i++) {
    const clientUserId = `legacy-mdm-user-${String(i + 1).padStart(3, '0')}`;
    state.putUser(org, { clientUserId, status: 'Associated', email: `reader${i + 1}@${orgName.toLowerCase().replace(/[^a-z]+/g, '')}.example` });
    legacy.push(clientUserId);
  }
  for (const [adamId, , , , assigned, pricing] of books) {
    for (let i = 0; i < assigned; i++) {
      const clientUserId = legacy[i % legacy.length];
      if (clientUserId) state.assign(org, adamId, pricing ?? 'STDQ', clientUserId);
    }
  }
  return org;
}

/** Northwind Academy (demo-valid, demo-expired) and Fabrikam Public Library (held by Contoso MDM). */
export function seedDemoData(state: SandboxState): { northwind: SandboxOrganisation; fabrikam: SandboxOrganisation } {
  const northwind = seedOrganisation(state, DEMO_ORG_NAME, NORTHWIND_BOOKS, 'Northwind Academy – Main Campus');
  const fabrikam = seedOrganisation(state, OTHER_MDM_ORG_NAME, FABRIKAM_BOOKS, 'Fabrikam Public Library – Downtown', OTHER_MDM);
  const expiry = (value: string): Date => parseAppleDate(value) ?? new Date(0);
  state.registerToken(DEMO_TOKEN_FILES['demo-valid.vpptoken'], northwind, expiry(DEMO_TOKENS.valid.expDate));
  state.registerToken(DEMO_TOKEN_FILES['demo-expired.vpptoken'], northwind, expiry(DEMO_TOKENS.expired.expDate));
  state.registerToken(DEMO_TOKEN_FILES['demo-other-mdm.vpptoken'], fabrikam, expiry(DEMO_TOKENS.otherMdm.expDate));
  return { northwind, fabrikam };
}
