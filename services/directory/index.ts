export {
  GraphDirectory,
  graphSignInFor,
  type BotSignIn,
  GRAPH_BASE_URL,
  DEFAULT_GRAPH_RETRY,
  type GraphDirectoryOptions,
  type DirectoryGroup,
  type DirectoryUser,
  type DirectoryMember,
  type MemberDelta,
  type NewDirectoryUser,
  type GroupKind,
  type GroupClassification,
  type MembershipType,
} from './GraphDirectory';
export { CachedGroupMembership, type CachedGroupMembershipOptions } from './CachedGroupMembership';
export * from './errors';
