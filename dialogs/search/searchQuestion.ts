import type { Activity, TurnContext } from 'botbuilder';
import { answeredQuestionCard, typeaheadQuestionCard } from '../../cards/assignCards';
import type { SearchDataset } from '../../services/search/TypeaheadSearch';
import { cardMessage, replaceCard } from '../replies';

/** The words of one typeahead box (plain text: they are input labels and a button title). */
export interface SearchBox {
  dataset: SearchDataset;
  label: string;
  placeholder: string;
  button: string;
  error: string;
}

export const BOOK_SEARCH_BOX: SearchBox = {
  dataset: 'books',
  label: 'Search your books',
  placeholder: 'Title or author',
  button: 'Choose this book',
  error: 'Pick a book from the list, or type part of its title in the chat.',
};

export const GROUP_SEARCH_BOX: SearchBox = {
  dataset: 'groups',
  label: 'Search groups',
  placeholder: 'Group name',
  button: 'Choose this group',
  error: 'Pick a group from the list, or type part of its name in the chat.',
};

/**
 * The question as text, which says how to answer by typing (the fallback where a client has no typeahead),
 * with the search box card under it.
 */
export function searchQuestion(question: string, box: SearchBox, ref: string): Partial<Activity> {
  return cardMessage(typeaheadQuestionCard({ ref, ...box }), question);
}

/** Replaces an answered question card with the question and its answer (both chat Markdown); best effort. */
export async function markAnswered(context: TurnContext, cardId: string | undefined, question: string, answer: string): Promise<void> {
  await replaceCard(context, cardId, answeredQuestionCard({ question, answer }));
}
