import { strict as assert } from 'node:assert';
import { EMAIL_MAX_LENGTH, emailSchema, validEmail } from '../../../services/common/email';
import { vppUserSchema } from '../../../services/store/entities/vppUser';

describe('the one e-mail rule', () => {
  const accepted = ['reader1@contoso.example', 'first.last+books@students.contoso.example', "o'brien@contoso.example"];
  // An internationalised local part passed the executor's old loose pattern and then failed the store's
  // check, stopping a whole run; the shared rule refuses it before it is sent or stored.
  const refused = ['josé@example.com', 'not-an-email', 'two@@contoso.example', 'space in@contoso.example', 'a@b', `${'a'.repeat(EMAIL_MAX_LENGTH)}@contoso.example`, ''];

  it('accepts plain addresses and refuses the rest', () => {
    for (const address of accepted) assert.equal(validEmail(address), address, address);
    for (const address of refused) assert.equal(validEmail(address), undefined, address);
    assert.equal(validEmail(undefined), undefined);
  });

  it('is the rule the store checks: whatever it lets through, a VPP user record accepts', () => {
    const user = { id: 'u1', tokenId: 't1', tenantId: 'tenant', clientUserId: 'u1', status: 'registered', createdDateTime: '2026-01-01T00:00:00Z', lastModifiedDateTime: '2026-01-01T00:00:00Z' };
    for (const address of [...accepted, ...refused]) {
      assert.equal(vppUserSchema.safeParse({ ...user, email: address }).success, emailSchema.safeParse(address).success, address);
    }
  });
});
