import type { ClaimOutcome } from '../../services/assignments/claimModel';
import { escapeMarkdown } from '../../services/common/chatText';

const READ_IT = 'Open the **Books** app on your iPhone, iPad or Mac (signed in with your Apple Account) and look under your purchases; it can take a few minutes to show.';

/** A Get click's answer, in plain words for someone who is not an IT admin. */
export function claimAnswer(result: ClaimOutcome): string {
  switch (result.outcome) {
    case 'licensed':
      return result.invitationUrl
        ? `"${escapeMarkdown(result.book.title)}" is yours. First join your organisation's Apple volume purchasing programme with your own invitation: ${result.invitationUrl} . Once you have accepted it, the book shows up in the **Books** app.`
        : `"${escapeMarkdown(result.book.title)}" is yours. ${READ_IT}`;
    case 'alreadyYours':
      return result.invitationUrl
        ? `"${escapeMarkdown(result.book.title)}" is already yours, once you join your organisation's Apple volume purchasing programme with your invitation: ${result.invitationUrl}`
        : `"${escapeMarkdown(result.book.title)}" is already yours. ${READ_IT}`;
    case 'budgetUsedUp':
      return result.topUp === 'asked'
        ? `All the licenses approved for "${escapeMarkdown(result.book.title)}" are taken, so you do not have it yet. I asked the admins for more; I will tell you here as soon as one is yours.`
        : `All the licenses approved for "${escapeMarkdown(result.book.title)}" are taken, so you do not have it yet, and I could not ask the admins for more (${result.problem ?? 'no approver could be reached'}). Please ask your IT team.`;
    case 'onItsWay':
      return `A license of "${escapeMarkdown(result.book.title)}" is set aside for you; Apple is still working on it. I will tell you here when the book is yours.`;
    case 'refused':
      return `You did not get "${escapeMarkdown(result.book.title)}": ${result.reason}. Nothing was used up; try **Get** again later, or ask your IT team.`;
    case 'notInGroup':
      return `"${escapeMarkdown(result.book.title)}" is only for members of the groups it was made available to, and you are not in them. Nothing was changed. Type **my books** for the books you can get.`;
    case 'notAvailable':
      return 'That book cannot be got here any more (its assignment changed or was removed). Nothing was changed. Type **my books** for the books you can get now.';
  }
}
