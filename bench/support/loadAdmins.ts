/** Concurrent admins in the load benchmark; each is a different Entra user with a personal chat. */
export const LOAD_ADMINS = 50;

/** A distinct Entra object id per simulated admin, as 50 real admins would have. */
export function loadAdminId(admin: number): string {
  return `00000000-0000-4000-8000-${String(100000000000 + admin).slice(-12)}`;
}

export const LOAD_ADMIN_IDS = Array.from({ length: LOAD_ADMINS }, (_, i) => loadAdminId(i));
