/**
 * Who may call what, in one table. A caller's role is `client` (queue, seat
 * and feed calls made on behalf of users) or `admin` (configuration, stats,
 * seat maps, dead letters, and everything a client may do).
 */
export type Role = "client" | "admin";

/** What a method requires: no credentials at all, or at least this role. */
export type Requirement = "open" | Role;

export const ROLES: readonly Role[] = ["client", "admin"];

/**
 * Every method of every `boxoffice.v1` service, by full name
 * (`package.Service/Method`). A method missing here requires `admin`, so a
 * new RPC is closed until someone decides; a test checks that every method
 * in `gen/` is listed.
 */
export const METHOD_ROLES: Readonly<Record<string, Role>> = Object.freeze({
  "boxoffice.v1.QueueService/ConfigureQueue": "admin",
  "boxoffice.v1.QueueService/GetQueueStats": "admin",
  "boxoffice.v1.QueueService/Join": "client",
  "boxoffice.v1.QueueService/GetPosition": "client",
  "boxoffice.v1.QueueService/WatchPosition": "client",
  "boxoffice.v1.QueueService/Leave": "client",

  "boxoffice.v1.SeatService/LoadSeatMap": "admin",
  "boxoffice.v1.SeatService/HoldSeats": "client",
  "boxoffice.v1.SeatService/ExtendHold": "client",
  "boxoffice.v1.SeatService/ReleaseHold": "client",
  "boxoffice.v1.SeatService/ConfirmHold": "client",
  "boxoffice.v1.SeatService/GetHold": "client",
  "boxoffice.v1.SeatService/GetAvailability": "client",
  "boxoffice.v1.SeatService/WatchAvailability": "client",

  "boxoffice.v1.ChangeFeedService/Subscribe": "client",
  "boxoffice.v1.ChangeFeedService/Ack": "client",
  "boxoffice.v1.ChangeFeedService/GetFeedStats": "admin",
  "boxoffice.v1.ChangeFeedService/ListDeadLetters": "admin",
  "boxoffice.v1.ChangeFeedService/ReplayDeadLetters": "admin",
});

const HEALTH_SERVICE = "grpc.health.v1.Health";
const REFLECTION_SERVICES = ["grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"];

export interface RequirementOptions {
  /** Serve reflection without credentials (true) or to any authenticated caller (false). */
  readonly openReflection: boolean;
}

/**
 * The requirement of one method, from its service's type name and its name.
 * Health is always open (load balancers and orchestrators probe it without
 * credentials); reflection is open unless configured otherwise; anything else
 * not in the table needs `admin`.
 */
export function requirementOf(serviceTypeName: string, methodName: string, options: RequirementOptions): Requirement {
  const listed = METHOD_ROLES[`${serviceTypeName}/${methodName}`];
  if (listed !== undefined) {
    return listed;
  }
  if (serviceTypeName === HEALTH_SERVICE) {
    return "open";
  }
  if (REFLECTION_SERVICES.includes(serviceTypeName)) {
    return options.openReflection ? "open" : "client";
  }
  return "admin";
}

/** Whether a caller holding `role` meets `required`: admin includes everything a client may do. */
export function roleSatisfies(role: Role, required: Role): boolean {
  return role === "admin" || role === required;
}
