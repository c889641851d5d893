import { strict as assert } from 'node:assert';
import { noticeMessages } from '../../cards/notificationMessages';
import type { SyncResultView } from '../../services/notifications/noticeMessages';
import { cardNodes } from './cardNodes';

function result(tokenName: string, lowLicenseBooks: SyncResultView['lowLicenseBooks'] = [], status: SyncResultView['status'] = 'completed'): SyncResultView {
  return {
    tokenId: `id-${tokenName}`,
    tokenName,
    status,
    books: 1_500,
    licenses: { total: 12_000, used: 2_000, available: 10_000 },
    changes: { booksAdded: 0, booksUpdated: 0, booksRemoved: 0, usersChanged: 0, assignmentsChanged: 0 },
    durationMs: 1_000,
    error: status === 'completed' ? undefined : { message: 'Apple did not answer.' },
    lowLicenseBooks,
  };
}

describe('sync result messages: books running low are part of the result', () => {
  it('one token: the text and the card name each book running low', () => {
    const message = noticeMessages.syncResult(result('Northwind', [{ title: 'Emma', available: 2, total: 20 }]));
    assert.equal(message.text, 'Sync of Northwind finished: 1,500 books, 10,000 of 12,000 licenses available. Running low on licenses: Emma: 2 of 20 left.');
    assert.ok(cardNodes(message.card).some((n) => n.type === 'TextBlock' && n.text === 'Emma: 2 of 20 left'));
  });

  it('several tokens: the summary lists the books running low with their token, and what to do', () => {
    const message = noticeMessages.syncSummary([result('Northwind', [{ title: 'Emma', available: 2, total: 20 }]), result('Fabrikam'), result('Contoso', [], 'failed')]);
    assert.equal(message.text, 'Sync of 3 tokens finished: 2 completed, 1 failed. 1 book is running low on licenses.');
    const nodes = cardNodes(message.card);
    assert.ok(nodes.some((n) => n.title === 'Running low: Emma' && n.value === '2 of 20 left (Northwind)'));
    assert.ok(nodes.some((n) => n.title === 'Northwind' && n.value === '1,500 books, 10,000 of 12,000 licenses available'));
    const steps = nodes.find((n) => n.type === 'TextBlock' && String(n.text).startsWith('Type **status**'));
    assert.match(String(steps?.text), /Buy more licenses for the books running low/);
    const title = nodes.find((n) => n.type === 'TextBlock' && String(n.text).endsWith('Sync finished'));
    assert.equal(title?.text, '⚠️ Sync finished', 'a failure is said with an emoji');
    assert.equal(title?.color, undefined, "the theme's own colour: red text fails contrast in the dark theme");
  });

  it('a summary with nothing running low and nothing failed says nothing about either, and is marked done', () => {
    const message = noticeMessages.syncSummary([result('Northwind'), result('Fabrikam')]);
    assert.equal(message.text, 'Sync of 2 tokens finished: 2 completed, 0 failed.');
    const nodes = cardNodes(message.card);
    assert.ok(!nodes.some((n) => String(n.title ?? '').startsWith('Running low')));
    assert.equal(nodes.find((n) => n.type === 'TextBlock' && String(n.text).endsWith('Sync finished'))?.text, '✅ Sync finished');
  });
});
