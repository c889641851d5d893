import type { DirectoryState, LocalUser } from './DirectoryState';

/** Demo tenant: the Agents Playground's users plus a school with staff, students and iPads. */
const DEMO_DOMAIN = 'northwind.example';
const DEMO_APPLE_DOMAIN = 'appleid.northwind.example';
export const DEMO_STUDENT_COUNT = 5_000;

const groupId = (n: number) => `90000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

export const DEMO_GROUPS = {
  vppBooksAdmins: groupId(1),
  englishDepartment: groupId(2),
  libraryStaff: groupId(3),
  libraryVolunteers: groupId(4),
  allStaff: groupId(5),
  teachers: groupId(6),
  year9Students: groupId(7),
  year9FormA: groupId(8),
  year9FormB: groupId(9),
  year9FormC: groupId(10),
  allStudents: groupId(11),
  studentIpads: groupId(12),
  allManagedIpads: groupId(13),
  scienceLabCarts: groupId(14),
  bookClub: groupId(15),
} as const;

/** The Playground's users keep their ids so its chats map onto directory users. */
export const DEMO_USERS = {
  alexWilber: '00000000-0000-0000-0000-0000000000020',
  meganBowen: '00000000-0000-0000-0000-0000000000021',
  adeleVance: '00000000-0000-0000-0000-0000000000022',
  isaiahLanger: '00000000-0000-0000-0000-0000000000023',
  pattiFernandez: '00000000-0000-0000-0000-0000000000024',
  lynneRobbins: '00000000-0000-0000-0000-0000000000025',
} as const;

type Named = [name: string, jobTitle: string, department: string, managedAppleId: boolean];

const NAMED: Named[] = [
  ['Alex Wilber', 'IT Administrator', 'IT', false],
  ['Megan Bowen', 'IT Support', 'IT', false],
  ['Adele Vance', 'Teacher', 'English', true],
  ['Isaiah Langer', 'Teacher', 'English', true],
  ['Patti Fernandez', 'Librarian', 'Library', true],
  ['Lynne Robbins', 'Librarian', 'Library', false],
  ['Diego Siciliani', 'Teacher', 'English', true],
  ['Johanna Lorenz', 'Teacher', 'English', false],
  ['Lidia Holloway', 'Teacher', 'English', true],
  ['Miriam Graham', 'Teacher', 'English', false],
  ['Henrietta Mueller', 'Library Volunteer', 'Library', false],
  ['Lee Gu', 'Library Volunteer', 'Library', true],
  ['Grady Archie', 'Teacher', 'Science', false],
  ['Joni Sherman', 'Teacher', 'Science', true],
  ['Nestor Wilke', 'Teacher', 'Mathematics', false],
  ['Pradeep Gupta', 'Teacher', 'Mathematics', true],
  ['Allan Deyoung', 'Head of Year 9', 'Pastoral', false],
  ['Christie Cline', 'Principal', 'Leadership', false],
  ['Debra Berger', 'Office Manager', 'Administration', false],
  ['Enrico Cattaneo', 'Teacher', 'History', true],
  ['Irvin Sayers', 'Teacher', 'History', false],
  ['Emily Braun', 'Teacher', 'Art', false],
  ['Raul Razo', 'Technician', 'Science', false],
  ['Brian Johnson', 'Teacher', 'Music', false],
  ['Cameron White', 'Teacher', 'Geography', true],
  ['Delia Dennis', 'Counsellor', 'Pastoral', false],
  ['Gerhart Moller', 'Teacher', 'Languages', false],
  ['Isabella Simonsen', 'Teacher', 'Languages', true],
  ['Mona Kane', 'Teaching Assistant', 'English', false],
  ['Ben Walters', 'Network Engineer', 'IT', false],
];

const FIRST = ['Ava', 'Ben', 'Chloe', 'Dev', 'Elena', 'Finn', 'Grace', 'Hugo', 'Isla', 'Jack', 'Kai', 'Lena', 'Mia', 'Noah', 'Omar', 'Priya', 'Quinn', 'Ruby', 'Sam', 'Tara', 'Umar', 'Vera', 'Will', 'Yara', 'Zoe'];
const LAST = ['Adams', 'Baker', 'Chen', 'Diaz', 'Evans', 'Fischer', 'Garcia', 'Hughes', 'Ito', 'Jones', 'Khan', 'Lopez', 'Moreau', 'Nowak', 'Okafor', 'Patel', 'Rossi', 'Silva', 'Tanaka', 'Walsh'];

/** mulberry32: small, fast and the same sequence on every run, so demo ids and names are stable. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(items: readonly T[], random: () => number): T => items[Math.floor(random() * items.length)] as T;

const studentId = (index: number) => `20000000-0000-4000-8000-${String(index).padStart(12, '0')}`;
const deviceId = (index: number) => `30000000-0000-4000-8000-${String(index).padStart(12, '0')}`;
const namedId = (index: number) => `00000000-0000-0000-0000-${String(20 + index).padStart(13, '0')}`;

function alias(name: string): string {
  const [first = '', last = ''] = name.toLowerCase().split(' ');
  return `${first}${last.charAt(0)}`;
}

export function seedDirectoryDemoData(state: DirectoryState, options: { studentCount?: number; seed?: number } = {}): void {
  const random = seededRandom(options.seed ?? 20_240_901);
  const named: LocalUser[] = NAMED.map(([name, jobTitle, department, managed], i) =>
    state.addUser({
      id: namedId(i),
      displayName: name,
      userPrincipalName: `${alias(name)}@${DEMO_DOMAIN}`,
      mail: `${alias(name)}@${DEMO_DOMAIN}`,
      jobTitle,
      department,
      managedAppleId: managed ? `${alias(name)}@${DEMO_APPLE_DOMAIN}` : undefined,
    }),
  );
  const byDept = (d: string) => named.filter((u) => u.department === d).map((u) => u.id);
  const idOf = (name: string) => named.find((u) => u.displayName === name)?.id ?? '';

  const students: string[] = [];
  const count = options.studentCount ?? DEMO_STUDENT_COUNT;
  for (let i = 1; i <= count; i++) {
    const first = pick(FIRST, random);
    const last = pick(LAST, random);
    const upn = `${first}.${last}${i}`.toLowerCase();
    state.addUser({
      id: studentId(i),
      displayName: `${first} ${last}`,
      userPrincipalName: `${upn}@students.${DEMO_DOMAIN}`,
      mail: `${upn}@students.${DEMO_DOMAIN}`,
      jobTitle: 'Student',
      department: 'Students',
      managedAppleId: random() < 0.35 ? `${upn}@${DEMO_APPLE_DOMAIN}` : undefined,
    });
    students.push(studentId(i));
  }

  const ipads: string[] = [];
  for (let i = 1; i <= 60; i++) ipads.push(state.addDevice({ id: deviceId(i), displayName: `NW-IPAD-${String(i).padStart(3, '0')}`, deviceOSType: 'iPad' }).id);
  const macs: string[] = [];
  for (let i = 61; i <= 70; i++) macs.push(state.addDevice({ id: deviceId(i), displayName: `NW-MAC-${String(i).padStart(3, '0')}`, deviceOSType: 'MacMDM' }).id);

  const G = DEMO_GROUPS;
  const add = (id: string, displayName: string, description: string, members: string[] = [], membershipRule?: string) =>
    state.addGroup({ id, displayName, description, members, membershipRule });

  add(G.vppBooksAdmins, 'VPP Books Admins', 'May manage VPP tokens and book assignments in the VPP Books bot.', [DEMO_USERS.alexWilber]);
  add(G.englishDepartment, 'English Department', 'English teachers and teaching assistants.', [...byDept('English')]);
  add(G.libraryVolunteers, 'Library Volunteers', 'Staff and student volunteers in the library.', [idOf('Henrietta Mueller'), idOf('Lee Gu'), ...students.slice(0, 5)]);
  add(G.libraryStaff, 'Library Staff', 'Librarians, and the volunteers group nested inside.', [DEMO_USERS.pattiFernandez, DEMO_USERS.lynneRobbins, G.libraryVolunteers]);
  // Nested groups and direct members overlap on purpose: transitive listings must list each user once.
  add(G.allStaff, 'All Staff', 'Every member of staff.', [G.englishDepartment, G.libraryStaff, ...named.map((u) => u.id)]);
  add(G.teachers, 'Teachers', 'Dynamic: every user whose job title is Teacher.', [], '(user.jobTitle -eq "Teacher")');
  add(G.year9FormA, 'Year 9 Form 9A', 'Form group 9A.', students.slice(0, 60));
  add(G.year9FormB, 'Year 9 Form 9B', 'Form group 9B.', students.slice(60, 120));
  add(G.year9FormC, 'Year 9 Form 9C', 'Form group 9C.', students.slice(120, 180));
  add(G.year9Students, 'Year 9 Students', 'All Year 9 students: the three form groups nested.', [G.year9FormA, G.year9FormB, G.year9FormC, idOf('Allan Deyoung')]);
  add(G.allStudents, 'All Students', `All ${count.toLocaleString('en-GB')} students.`, students);
  add(G.studentIpads, 'Student iPads', 'Shared iPads in the student trolleys (devices).', ipads.slice(0, 40));
  add(G.allManagedIpads, 'All Managed iPads', 'Dynamic: every managed iPad.', [], '(device.deviceOSType -eq "iPad")');
  add(G.scienceLabCarts, 'Science Lab Carts', 'Science technicians and the lab Macs (users and devices).', [...byDept('Science'), ...macs]);
  add(G.bookClub, 'Book Club', 'New group, nobody in it yet.');
}
