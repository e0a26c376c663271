import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { DescService } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { METHOD_ROLES, requirementOf, roleSatisfies } from "../../src/auth/roles.js";

const GEN = fileURLToPath(new URL("../../gen/boxoffice/v1/", import.meta.url));

/** Every service generated into gen/boxoffice/v1, whatever files exist there now. */
async function generatedServices(): Promise<DescService[]> {
  const services: DescService[] = [];
  for (const file of readdirSync(GEN).filter((name) => name.endsWith("_pb.ts"))) {
    const module = (await import(`${GEN}${file}`)) as Record<string, unknown>;
    for (const value of Object.values(module)) {
      if (typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "service") {
        services.push(value as DescService);
      }
    }
  }
  return services;
}

describe("the role table", () => {
  it("lists every method of every boxoffice.v1 service explicitly (a new RPC forces a decision)", async () => {
    const services = await generatedServices();
    expect(services.map((s) => s.typeName)).toEqual(expect.arrayContaining(["boxoffice.v1.QueueService", "boxoffice.v1.SeatService"]));
    const unlisted = services.flatMap((s) => s.methods.map((m) => `${s.typeName}/${m.name}`)).filter((rpc) => !(rpc in METHOD_ROLES));
    expect(unlisted).toEqual([]);
  });

  it("names only methods that exist, for every service that is generated", async () => {
    const services = new Map((await generatedServices()).map((s) => [s.typeName, s]));
    const stale = Object.keys(METHOD_ROLES).filter((rpc) => {
      const [typeName, name] = rpc.split("/") as [string, string];
      const service = services.get(typeName);
      return service !== undefined && !service.methods.some((m) => m.name === name);
    });
    expect(stale).toEqual([]);
  });

  it("keeps configuration, stats and seat maps for admins", () => {
    const open = { openReflection: true };
    expect(requirementOf("boxoffice.v1.QueueService", "ConfigureQueue", open)).toBe("admin");
    expect(requirementOf("boxoffice.v1.QueueService", "GetQueueStats", open)).toBe("admin");
    expect(requirementOf("boxoffice.v1.SeatService", "LoadSeatMap", open)).toBe("admin");
    expect(requirementOf("boxoffice.v1.QueueService", "Join", open)).toBe("client");
    expect(requirementOf("boxoffice.v1.SeatService", "HoldSeats", open)).toBe("client");
  });

  it("requires admin for a method nobody listed", () => {
    expect(requirementOf("boxoffice.v1.QueueService", "DropEverything", { openReflection: true })).toBe("admin");
    expect(requirementOf("boxoffice.v1.NewService", "Anything", { openReflection: true })).toBe("admin");
    expect(requirementOf("some.other.v1.Service", "Call", { openReflection: true })).toBe("admin");
  });

  it("leaves health open always, and reflection open unless configured otherwise", () => {
    for (const openReflection of [true, false]) {
      expect(requirementOf("grpc.health.v1.Health", "Check", { openReflection })).toBe("open");
      expect(requirementOf("grpc.health.v1.Health", "Watch", { openReflection })).toBe("open");
    }
    for (const service of ["grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"]) {
      expect(requirementOf(service, "ServerReflectionInfo", { openReflection: true })).toBe("open");
      expect(requirementOf(service, "ServerReflectionInfo", { openReflection: false })).toBe("client");
    }
  });

  it("lets admins do everything clients may, not the reverse", () => {
    expect(roleSatisfies("admin", "client")).toBe(true);
    expect(roleSatisfies("admin", "admin")).toBe(true);
    expect(roleSatisfies("client", "client")).toBe(true);
    expect(roleSatisfies("client", "admin")).toBe(false);
  });
});
