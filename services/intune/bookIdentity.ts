import { createHash } from 'node:crypto';
import type { PricingParam } from '../store/entities/common';
import type { IntuneEBook } from './IntuneApi';

/** Apple's book pages end in `/id<adamId>` (books.apple.com/…/book/<title>/id123456789, or the older itunes.apple.com). */
const ADAM_ID_IN_URL = /\/id(\d{1,20})(?:[/?#]|$)/;

/** A derived id's digits: far longer than Apple's adamIds (ten digits or fewer today), so it never names a real book. */
const DERIVED_DIGITS = 19;
const DERIVED_PREFIX = '9';

/** Graph's iosVppEBook names no pricing parameter: books read from Intune are stored under Apple's standard one. */
const INTUNE_PRICING: PricingParam = 'STDQ';

export interface BookIdentity {
  adamId: string;
  pricingParam: PricingParam;
  /** True when the adamId is derived from Intune's book id rather than read from Apple's page. */
  derived: boolean;
}

/**
 * The Apple identity a book read from Intune keeps in the store. The store, approvals, standing assignments
 * and assignment runs all key a book by adamId + pricingParam, so a book must keep that key whichever backend
 * it came through. Graph's iosVppEBook has no adamId property; its `informationUrl` is the book's Apple Books
 * page, whose path ends in the adamId, and that is read first. A book without such a page still needs a key
 * that is the same on every sync (or it would be removed and added each time, losing its approvals): it gets
 * a number derived from Intune's book id, a SHA-256 of it, 20 digits beginning with 9, which no real adamId has.
 */
export function bookIdentity(book: Pick<IntuneEBook, 'id' | 'informationUrl'>): BookIdentity {
  const fromPage = book.informationUrl ? ADAM_ID_IN_URL.exec(pathOf(book.informationUrl))?.[1] : undefined;
  if (fromPage) return { adamId: fromPage, pricingParam: INTUNE_PRICING, derived: false };
  const digest = BigInt(`0x${createHash('sha256').update(`intune-ebook|${book.id.toLowerCase()}`).digest('hex')}`);
  const digits = (digest % 10n ** BigInt(DERIVED_DIGITS)).toString().padStart(DERIVED_DIGITS, '0');
  return { adamId: `${DERIVED_PREFIX}${digits}`, pricingParam: INTUNE_PRICING, derived: true };
}

/** The URL's path (a query such as `?mt=11` is not part of the id); the text itself when it is no URL. */
function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}
