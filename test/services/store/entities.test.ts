import { strict as assert } from 'node:assert';
import type { z } from 'zod';
import { truncate } from '../../../services/common/truncate';
import { approvalRequestSchema } from '../../../services/store/entities/approval';
import { eBookAssignmentSchema } from '../../../services/store/entities/assignment';
import { bookClaimSchema } from '../../../services/store/entities/bookClaim';
import { LIMITS, errorInfoSchema } from '../../../services/store/entities/common';
import { eBookSchema } from '../../../services/store/entities/eBook';
import { memberNoticeSchema } from '../../../services/store/entities/memberNotice';
import { notificationSchema } from '../../../services/store/entities/notification';
import { standingAssignmentSchema } from '../../../services/store/entities/standingAssignment';
import { syncResultSchema } from '../../../services/store/entities/syncRequest';
import { assignmentRunSchema } from '../../../services/store/repositories/AssignmentRunRepository';

/*
 * Code that stores text from Apple, Entra or an admin cuts it with `truncate(text, LIMITS.x)`. That is
 * only safe if each field's schema allows exactly LIMITS.x: a tighter `.max()` makes the cut value fail
 * the write (and stop whatever wrote it), a looser one means the cap is kept in two places.
 */
describe('entity length caps', () => {
  const fields: Array<[string, z.ZodType, number]> = [
    ['book title', eBookSchema.shape.title, LIMITS.title],
    ['assignment book title', eBookAssignmentSchema.shape.bookTitle, LIMITS.title],
    ['assignment group name', eBookAssignmentSchema.shape.targetGroupName, LIMITS.displayName],
    ['approval book title', approvalRequestSchema.shape.summary.shape.bookTitle, LIMITS.title],
    ['approval group names', approvalRequestSchema.shape.summary.shape.groupName, LIMITS.displayName],
    ['approval comment', approvalRequestSchema.shape.comment, LIMITS.reason],
    ['claim member name', bookClaimSchema.shape.member.shape.displayName, LIMITS.displayName],
    ['claim failure code', bookClaimSchema.shape.failure.unwrap().shape.code, LIMITS.errorCode],
    ['member notice reason', memberNoticeSchema.shape.reason, LIMITS.reason],
    ['notification occurrence', notificationSchema.shape.occurrenceKey, LIMITS.occurrenceKey],
    ['notification error', notificationSchema.shape.error, LIMITS.message],
    ['standing top-up problem', standingAssignmentSchema.shape.topUpProblem, LIMITS.reason],
    ['sync result error message', syncResultSchema.shape.error.unwrap().shape.message, LIMITS.message],
    ['run book title', assignmentRunSchema.shape.bookTitle, LIMITS.title],
    ['error info code', errorInfoSchema.shape.code, LIMITS.errorCode],
  ];

  for (const [name, schema, limit] of fields) {
    it(`${name}: a value cut to ${limit} is stored, one unit more is refused`, () => {
      assert.equal(schema.safeParse(truncate('x'.repeat(limit + 40), limit)).success, true);
      assert.equal(schema.safeParse(truncate('😀'.repeat(limit), limit, '…')).success, true, 'a cut through emoji still fits');
      assert.equal(schema.safeParse('x'.repeat(limit + 1)).success, false);
    });
  }
});
