export {
  ApprovalService,
  approverPolicy,
  DEFAULT_APPROVAL_EXPIRY_MS,
  MAX_REFRESH_USERS,
  type ApprovalServiceOptions,
  type ApproverPolicy,
  type DecisionResult,
  type RequestInput,
  type RunStarter,
} from './ApprovalService';
