/** The Apple Apps and Books surface the bot and the sync engine use. */
export { AppleBooksClient, DEFAULT_LIMITS } from './AppleBooksClient';
export type {
  AppleBooksClientOptions,
  AssignmentQuery,
  AsyncOperationResult,
  FailureDetail,
  FullRead,
  Limits,
  TokenOwnership,
  UserQuery,
  WaitOptions,
} from './AppleBooksClient';
export type {
  Asset,
  AssetRef,
  AssetsPage,
  Assignment,
  AssignmentsPage,
  ClientConfig,
  EventFailure,
  EventStatus,
  MdmInfo,
  ServiceConfig,
  UserRequest,
  UsersPage,
  VppUser,
} from './schemas';
export { VppError, VPP_ERROR_MESSAGES, describeVppErrorNumber, type VppErrorKind } from './VppError';
export {
  MAX_TOKEN_FILE_BYTES,
  encodeVppTokenFile,
  formatAppleDate,
  parseAppleDate,
  parseVppTokenFile,
  tokenFingerprint,
  type ParseVppTokenOptions,
  type VppTokenFile,
} from './VppTokenFile';
export { BookMetadataClient, fallbackBook, type BookMetadata, type BookMetadataClientOptions } from './BookMetadataClient';
export { isAppleReachable } from './reachability';
