import type { Database } from '@azure/cosmos';
import { ensureContainers, type ContainerSettings, type StoreContainers } from './containers';
import { ApprovalRepository } from './repositories/ApprovalRepository';
import { AssignmentRepository } from './repositories/AssignmentRepository';
import { AuditLog } from './repositories/AuditLog';
import { BookClaimRepository } from './repositories/BookClaimRepository';
import { BookRepository } from './repositories/BookRepository';
import { ConversationReferenceRepository } from './repositories/ConversationReferenceRepository';
import { LeaseRepository } from './repositories/LeaseRepository';
import { MemberNoticeRepository } from './repositories/MemberNoticeRepository';
import { NotificationRepository } from './repositories/NotificationRepository';
import type { RepositoryOptions } from './repositories/options';
import { StandingAssignmentRepository } from './repositories/StandingAssignmentRepository';
import { SyncRequestRepository } from './repositories/SyncRequestRepository';
import { SyncRunRepository } from './repositories/SyncRunRepository';
import { TokenRepository } from './repositories/TokenRepository';
import { VppUserRepository } from './repositories/VppUserRepository';

/** Every repository, over one database. Build it once at start-up and pass it to the services. */
export interface Store {
  containers: StoreContainers;
  tokens: TokenRepository;
  books: BookRepository;
  assignments: AssignmentRepository;
  standing: StandingAssignmentRepository;
  /** Members' claims of Available books (beside the runs, in `assignments`). */
  claims: BookClaimRepository;
  vppUsers: VppUserRepository;
  syncRuns: SyncRunRepository;
  syncRequests: SyncRequestRepository;
  approvals: ApprovalRepository;
  conversations: ConversationReferenceRepository;
  notifications: NotificationRepository;
  /** Told-once messages to members of assigned groups; beside the notifications, in the token's partition. */
  memberNotices: MemberNoticeRepository;
  audit: AuditLog;
  leases: LeaseRepository;
}

function storeFromContainers(containers: StoreContainers, options: RepositoryOptions = {}): Store {
  return {
    containers,
    tokens: new TokenRepository(containers.tokens, options),
    books: new BookRepository(containers.books, options),
    assignments: new AssignmentRepository(containers.assignments, options),
    standing: new StandingAssignmentRepository(containers.assignments, options),
    claims: new BookClaimRepository(containers.assignments, options),
    vppUsers: new VppUserRepository(containers.vppUsers, options),
    syncRuns: new SyncRunRepository(containers.syncRuns, options),
    syncRequests: new SyncRequestRepository(containers.syncRequests, options),
    approvals: new ApprovalRepository(containers.approvals, options),
    conversations: new ConversationReferenceRepository(containers.conversations, options),
    notifications: new NotificationRepository(containers.notifications, options),
    memberNotices: new MemberNoticeRepository(containers.notifications, options),
    audit: new AuditLog(containers.audit, options),
    leases: new LeaseRepository(containers.leases, options),
  };
}

/** Start-up entry point: creates missing containers (idempotent), then the repositories. */
export async function createStore(database: Database, options: RepositoryOptions = {}, containers: ContainerSettings = {}): Promise<Store> {
  return storeFromContainers(await ensureContainers(database, containers), options);
}
