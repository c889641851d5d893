export { GraphDirectory, GRAPH_BASE_URL, DEFAULT_GRAPH_RETRY, type GraphDirectoryOptions, type DirectoryGroup, type DirectoryUser, type GroupKind, type GroupClassification, type MembershipType } from './GraphDirectory';
export { CachedGroupMembership, type CachedGroupMembershipOptions } from './CachedGroupMembership';
export * from './errors';
export { startLocalDirectory, type LocalDirectoryOptions, type RunningLocalDirectory, type DirectoryFault, type RecordedRequest } from './local/LocalDirectoryServer';
export { DirectoryState, LOCAL_MANAGED_APPLE_ID_ATTRIBUTE, type LocalUser, type LocalDevice, type LocalGroup } from './local/DirectoryState';
export { DEMO_GROUPS, DEMO_USERS, DEMO_DOMAIN, DEMO_APPLE_DOMAIN, DEMO_STUDENT_COUNT } from './local/demoData';
