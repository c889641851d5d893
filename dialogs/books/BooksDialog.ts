import { ComponentDialog, WaterfallDialog, type DialogTurnResult, type WaterfallStepContext } from 'botbuilder-dialogs';
import { z } from 'zod';
import { bookListCard } from '../../cards/bookCards';
import { cursorFromArgs, MAX_SEARCH_LENGTH, type BookCatalog, type BookCursor } from '../../services/books/BookCatalog';
import { endWithError } from '../chatErrors';
import { flowActor, type FlowOptions } from '../flows';
import { flowState } from '../flowState';
import { replaceOrSendCard, sendCard } from '../replies';

export const INVALID_BOOKS_REQUEST =
  'That books card sent something I could not read, so I did nothing. Type **books** to list the books again, or **books** followed by part of a title to search.';

/** The card's Search button: `args.search` plus the Input.Text value Teams merges into the data. */
const searchArgsSchema = z.object({ search: z.literal('1') }).strict();
const searchInputSchema = z.looseObject({ bookSearch: z.string().max(MAX_SEARCH_LENGTH).optional() });

/** What to list: typed `books <text>`, a card search, or a Previous/Next cursor; undefined if forged. */
function booksRequest(options: FlowOptions, submitted: unknown): BookCursor | undefined {
  if (options.args === undefined) return { text: options.argument.slice(0, MAX_SEARCH_LENGTH).trim(), offset: 0 };
  if (searchArgsSchema.safeParse(options.args).success) {
    const input = searchInputSchema.safeParse(submitted);
    return input.success ? { text: (input.data.bookSearch ?? '').trim(), offset: 0 } : undefined;
  }
  return cursorFromArgs(options.args);
}

/** Books answers within the turn it starts in, so it keeps no values, only reads what it was started with. */
const booksState = flowState('books', z.object({}));

/** "books": purchased books across every token with license counts, search and paging. */
export class BooksDialog extends ComponentDialog {
  static readonly id = 'books';

  constructor(private readonly catalog: BookCatalog) {
    super(BooksDialog.id);
    this.addDialog(new WaterfallDialog('books.steps', [(step) => this.list(step)]));
    this.initialDialogId = 'books.steps';
  }

  private async list(step: WaterfallStepContext): Promise<DialogTurnResult> {
    const { tenantId } = flowActor(step.options, 'books');
    const request = booksRequest(booksState.options(step), step.context.activity.value);
    if (!request) {
      await step.context.sendActivity(INVALID_BOOKS_REQUEST);
      return step.endDialog();
    }
    try {
      const card = bookListCard(await this.catalog.page(tenantId, request));
      // A page or a search from the books card takes that card's place instead of stacking another.
      if (booksState.options(step).args === undefined) await sendCard(step.context, card);
      else await replaceOrSendCard(step.context, card);
    } catch (err) {
      return endWithError(step, err);
    }
    return step.endDialog();
  }
}
