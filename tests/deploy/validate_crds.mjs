// Validate Prometheus Operator resources with @kubernetes-models/prometheus-operator, whose
// validators are compiled from the operator's own CRD schemas (monitoring.coreos.com/v1).
//   node validate_crds.mjs <package dir> < resources.json
// stdin: a JSON array of resources; stdout: {"<index>": ["<path>: <message>", ...]} holding
// the invalid ones only. A kind the package lacks is an error, not a pass.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [packageDir] = process.argv.slice(2);
const resources = JSON.parse(readFileSync(0, "utf8"));
const failures = {};

for (const [index, resource] of resources.entries()) {
  const [group, version] = String(resource.apiVersion).split("/");
  const file = join(packageDir, group, version ?? "", `${resource.kind}.js`);
  let Model;
  try {
    Model = (await import(pathToFileURL(file).href))[resource.kind];
  } catch (err) {
    failures[index] = [`no validator for ${resource.apiVersion} ${resource.kind}: ${err.code}`];
    continue;
  }
  try {
    new Model(resource).validate();
  } catch (err) {
    const details = err.errors ?? [];
    failures[index] = details.length
      ? details.map((e) => `${e.instancePath || "/"}: ${e.message}`)
      : [String(err.message)];
  }
}
process.stdout.write(JSON.stringify(failures));
