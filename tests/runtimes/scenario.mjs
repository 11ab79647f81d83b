// The scenario every runtime runs against the local server (tests/runtimes/run.mjs): create,
// fromName + hydrate, list, update, info, delete, one typed error, and five refused redirects, with
// the runtime's default transport (node:http2 where the entry has it), then a listing over the
// other one (fetch). `pkg` is the package as that runtime imported it; the result is plain JSON for
// the harness to check.
export async function scenario(pkg, { serverUrl, tokenId, tokenSecret, name, redirectUrl }) {
  const { Client, Secret, NotFoundError, ModalError } = pkg;
  const client = new Client({ serverUrl, tokenId, tokenSecret, timeoutMs: 20_000 });
  const steps = [];
  await Secret.objects.create(name, { A: "1", B: "2" }, { client });
  steps.push("create");
  const secret = await Secret.fromName(name, { client }).hydrate();
  steps.push("hydrate");
  const listed = (await Secret.objects.list({ client })).map((s) => s.name);
  steps.push("list");
  await secret.update({ C: "3", A: null });
  steps.push("update");
  const info = await secret.info({ refresh: true });
  steps.push("info");
  await Secret.objects.delete(name, { client });
  steps.push("delete");
  let error;
  try {
    await Secret.fromName(name, { client }).hydrate();
  } catch (e) {
    error = { notFound: e instanceof NotFoundError, modal: e instanceof ModalError, name: e.name, code: e.code };
  }
  // A server that redirects (to another origin): five calls, each refused, none followed.
  const redirecting = new Client({ serverUrl: redirectUrl, tokenId, tokenSecret, timeoutMs: 20_000 });
  const redirects = [];
  for (let i = 0; i < 5; i++) {
    try {
      // (A value of more than one character: the core hides the values sent from server text, and
      // "1" would hide digits of the redirect's origin.)
      await Secret.objects.create(name, { A: "redirected-value" }, { client: redirecting });
      redirects.push({ name: "no error" });
    } catch (e) {
      redirects.push({ name: e.name, retryable: e.retryable, message: e.message });
    }
  }
  let viaFetch;
  if (client.transport === "http2") {
    const fetchClient = new Client({ serverUrl, tokenId, tokenSecret, timeoutMs: 20_000, transport: "fetch" });
    viaFetch = Array.isArray(await Secret.objects.list({ client: fetchClient }));
  }
  await client.close();
  return {
    redirects,
    steps,
    transport: client.transport,
    viaFetch,
    objectId: secret.objectId,
    keys: secret.keys,
    listed,
    info: { name: info.name, createdAt: info.createdAt instanceof Date, environmentName: info.environmentName },
    error,
    parsed: pkg.parseDotenv("X=${Y:-z}"),
  };
}
