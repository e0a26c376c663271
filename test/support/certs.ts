import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** PEM files made for one test run, and their contents. */
export interface TestCerts {
  readonly dir: string;
  /** The CA that signs the server's and the trusted client's certificates. */
  readonly caPath: string;
  readonly ca: Buffer;
  /** The server: CN localhost, SAN DNS:localhost and IP:127.0.0.1. */
  readonly serverCertPath: string;
  readonly serverKeyPath: string;
  /** A client certificate signed by the CA. */
  readonly client: { readonly cert: Buffer; readonly key: Buffer };
  /** A client certificate signed by another CA the server does not know. */
  readonly foreign: { readonly cert: Buffer; readonly key: Buffer };
  remove(): void;
}

/**
 * Makes a CA, a server certificate for 127.0.0.1/localhost, a client
 * certificate it signs, and a client certificate of a second, foreign CA,
 * with openssl into a fresh temporary directory (P-256 keys, valid one day).
 */
export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), "boxoffice-certs-"));
  const path = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => {
    execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  };
  const key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  const ca = (name: string): void => {
    openssl("req", "-x509", ...key, "-keyout", `${name}.key`, "-out", `${name}.pem`, "-days", "1", "-subj", `/CN=${name}`);
  };
  const leaf = (name: string, signer: string, extensions: string): void => {
    writeFileSync(path(`${name}.ext`), extensions);
    openssl("req", ...key, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`);
    openssl("x509", "-req", "-in", `${name}.csr`, "-CA", `${signer}.pem`, "-CAkey", `${signer}.key`, "-CAcreateserial", "-out", `${name}.pem`, "-days", "1", "-extfile", `${name}.ext`);
  };
  ca("test-ca");
  ca("foreign-ca");
  leaf("localhost", "test-ca", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  leaf("client", "test-ca", "extendedKeyUsage=clientAuth\n");
  leaf("intruder", "foreign-ca", "extendedKeyUsage=clientAuth\n");
  const pair = (name: string) => ({ cert: readFileSync(path(`${name}.pem`)), key: readFileSync(path(`${name}.key`)) });
  return {
    dir,
    caPath: path("test-ca.pem"),
    ca: readFileSync(path("test-ca.pem")),
    serverCertPath: path("localhost.pem"),
    serverKeyPath: path("localhost.key"),
    client: pair("client"),
    foreign: pair("intruder"),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
