import type { BookCatalog } from '../../services/books/BookCatalog';
import type { FlowRegistration } from '../flows';
import { BooksDialog } from './BooksDialog';

export interface BookFlowDependencies {
  catalog: BookCatalog;
}

/** Browsing books: read-only but tenant data, so admins only; fine in any conversation. */
export function bookFlows({ catalog }: BookFlowDependencies): FlowRegistration[] {
  return [{ command: 'books', dialog: new BooksDialog(catalog), adminOnly: true, personalChatOnly: false }];
}
