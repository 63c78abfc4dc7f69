#!/usr/bin/env python3
"""Generates Sources/MeshPolicy/Schema/IstioSchemas+Generated.swift from Istio's published CRDs.

    python3 Tools/generate-istio-schemas.py [Tools/istio/crd-all.gen.yaml] > Sources/MeshPolicy/Schema/IstioSchemas+Generated.swift

(`make generate` runs it; a test fails when the committed file is stale.)

Istio's CRDs (`Tools/istio/crd-all.gen.yaml`, istio/istio manifests/charts/base/files/crd-all.gen.yaml)
are the authoritative list of every field, type, enum, bound and CEL validation rule of the
current Istio API. This turns each kind's `spec` schema into the `ObjectSchema` values the type
checker and the JSON Schema generator read, so meshc cannot drift behind Istio's API again.

What the CRD does not say but Istio's validating webhook checks is added here, by field, and
listed below (LABEL_MAPS, PORT_FIELDS): label syntax of selectors, ports within 1-65535;
CEL duration rules make a field a duration.
"""
import json
import re
import sys

import yaml

CRD_PATH = sys.argv[1] if len(sys.argv) > 1 else "Tools/istio/crd-all.gen.yaml"

# Kinds meshc type-checks, by CRD kind: the Swift name of the spec schema.
KINDS = {
    "VirtualService": "virtualServiceSpec",
    "DestinationRule": "destinationRuleSpec",
    "ServiceEntry": "serviceEntrySpec",
    "WorkloadEntry": "workloadEntrySpec",
    "WorkloadGroup": "workloadGroupSpec",
    "Sidecar": "sidecarSpec",
    "Gateway": "gatewaySpec",
    "EnvoyFilter": "envoyFilterSpec",
    "ProxyConfig": "proxyConfigSpec",
    "Telemetry": "telemetrySpec",
    "PeerAuthentication": "peerAuthenticationSpec",
    "AuthorizationPolicy": "authorizationPolicySpec",
    "RequestAuthentication": "requestAuthenticationSpec",
    "WasmPlugin": "wasmPluginSpec",
    "TrafficExtension": "trafficExtensionSpec",
}

# Map fields whose keys and values Istio's webhook checks as Kubernetes labels
# (`labels.Instance.Validate()` in pkg/config/validation).
LABEL_MAPS = {"matchLabels", "labels", "sourceLabels"}

# Port numbers are uint32 in the protos; Istio's webhook refuses any port above 65535
# (`ValidatePort`, `validatePortSelector`, `ValidatePortName` in pkg/config/validation).
PORT_FIELDS = {"number", "port", "targetPort", "portNumber"}

# Bounds and required fields Istio's validating webhook adds to what the CRD states
# (pkg/config/validation), by the end of a field's path.
WEBHOOK = {
    "outlierDetection.maxEjectionPercent": {"minimum": 0, "maximum": 100},
    "outlierDetection.minHealthPercent": {"minimum": 0, "maximum": 100},
    "fault.abort.httpStatus": {"minimum": 200, "maximum": 599},
    "fault.delay.percent": {"minimum": 0, "maximum": 100},
    "directResponse.status": {"minimum": 200, "maximum": 599},
    "redirect.redirectCode": {"maximum": 399},
    "percentage.value": {"minimum": 0, "maximum": 100},
    "mirrorPercentage.value": {"minimum": 0, "maximum": 100},
    "mirrorPercent": {"minimum": 0, "maximum": 100},
    "destination.port.number": {"minimum": 1},
    "mirror.port.number": {"minimum": 1},
    "jwtRules[].issuer": {"required": True},
}


def webhook_overlay(path):
    for suffix, overlay in WEBHOOK.items():
        if path.endswith("." + suffix):
            return overlay
    return {}


def normalize(rule):
    return " ".join(rule.split())


def swift_string(s):
    return json.dumps(s, ensure_ascii=False).replace("\\/", "/")


def doc_of(schema):
    d = (schema.get("description") or "").strip()
    if not d:
        return ""
    first = re.split(r"(?<=[.!?])\s", d.replace("\n", " "), maxsplit=1)[0]
    return first if len(first) <= 200 else first[:197] + "..."


class Generator:
    def __init__(self):
        self.objects = {}  # canonical json -> swift name
        self.decls = []
        self.used_names = set()

    def name_for(self, path):
        base = re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_")
        base = "s_" + base
        name, n = base, 2
        while name in self.used_names:
            name, n = f"{base}{n}", n + 1
        self.used_names.add(name)
        return name

    def constraints(self, s, is_duration):
        parts = []
        for key, label in (("minLength", "minLength"), ("maxLength", "maxLength"), ("minItems", "minItems"),
                           ("maxItems", "maxItems"), ("minProperties", "minProperties"), ("maxProperties", "maxProperties")):
            if key in s:
                parts.append(f"{label}: {int(s[key])}")
        if "pattern" in s:
            parts.append(f"pattern: {swift_string(s['pattern'])}")
        if s.get("x-kubernetes-list-type") == "map":
            keys = ", ".join(swift_string(k) for k in s.get("x-kubernetes-list-map-keys", []))
            parts.append(f"listMapKeys: [{keys}]")
        elif s.get("x-kubernetes-list-type") == "set":
            parts.append("uniqueItems: true")
        rules = []
        for v in s.get("x-kubernetes-validations", []):
            rules.append(f"ValidationRule({swift_string(normalize(v['rule']))}, {swift_string(v.get('message', ''))})")
        if rules:
            parts.append("rules: [" + ", ".join(rules) + "]")
        return parts

    def type_of(self, s, path, field_name=None, label_value=False):
        """A Swift SchemaType expression for the OpenAPI schema `s`."""
        overlay = webhook_overlay(path)
        if any(k in overlay for k in ("minimum", "maximum")):
            s = dict(s)
            s.update({k: v for k, v in overlay.items() if k in ("minimum", "maximum")})
        rules = [normalize(v["rule"]) for v in s.get("x-kubernetes-validations", [])]
        is_duration = any(r.startswith("duration(self)") for r in rules)
        t = s.get("type")
        if s.get("x-kubernetes-int-or-string"):
            base = ".intOrString"
        elif s.get("x-kubernetes-preserve-unknown-fields") and not s.get("properties"):
            base = ".any"
        elif t == "string" and "enum" in s:
            base = ".enumeration([" + ", ".join(swift_string(str(e)) for e in s["enum"]) + "])"
        elif t == "string":
            if is_duration:
                base = ".string(.duration)"
            elif label_value:
                base = ".string(.labelValue)"
            elif field_name == "regex" or path.endswith("uriRegexRewrite.match"):
                # Istio's webhook compiles these with Go's regexp (RE2 syntax).
                base = ".string(.re2)"
            else:
                base = ".string()"
        elif t == "integer":
            args = []
            if field_name == "weight" and "minimum" not in s:
                # Route weights are relative shares; the webhook refuses only negative ones.
                args.append("min: 0")
            if "minimum" in s:
                args.append(f"min: {int(s['minimum'])}")
            if "maximum" in s:
                maximum = int(s["maximum"])
                if field_name in PORT_FIELDS and maximum > 65535:
                    maximum = 65535
                args.append(f"max: {maximum}")
            base = ".integer(" + ", ".join(args) + ")"
        elif t == "number":
            args = []
            if "minimum" in s:
                args.append(f"min: {float(s['minimum'])!r}")
            if "maximum" in s:
                args.append(f"max: {float(s['maximum'])!r}")
            base = ".number(" + ", ".join(args) + ")"
        elif t == "boolean":
            base = ".boolean"
        elif t == "array":
            base = ".array(" + self.type_of(s.get("items", {}), path + "[]") + ")"
        elif t == "object" and "properties" in s:
            base = ".object(" + self.object(s, path) + ")"
        elif t == "object" and isinstance(s.get("additionalProperties"), dict):
            value = s["additionalProperties"]
            if field_name in LABEL_MAPS and value.get("type") == "string":
                base = ".map(key: .labelKey, value: " + self.type_of(value, path + "{}", label_value=True) + ")"
            else:
                base = ".map(value: " + self.type_of(value, path + "{}") + ")"
        elif t == "object":
            # protobuf Struct / Any: free-form.
            base = ".any"
        else:
            base = ".any"
        parts = self.constraints(s, is_duration)
        if parts:
            return f".constrained({base}, Constraints({', '.join(parts)}))"
        return base

    def object(self, s, path):
        props = s.get("properties", {})
        required = set(s.get("required", []))
        required |= {name for name in props if webhook_overlay(f"{path}.{name}").get("required")}
        fields = []
        for name, sub in props.items():
            t = self.type_of(sub, f"{path}.{name}", field_name=name)
            args = [swift_string(name), t]
            if name in required:
                args.append("required: true")
            if sub.get("nullable"):
                args.append("nullable: true")
            d = doc_of(sub)
            if d:
                args.append(swift_string(d))
            fields.append("    f(" + ", ".join(args) + "),")
        oneofs = []

        def collect(node):
            for item in node.get("oneOf", []) or []:
                pass
            if "oneOf" in node:
                group = []
                for item in node["oneOf"]:
                    if "required" in item:
                        group.extend(item["required"])
                if group:
                    oneofs.append(group)
            for sub in node.get("allOf", []) or []:
                collect(sub)

        collect(s)
        title = path
        key = json.dumps([title.split(".")[0], fields, oneofs])
        if key in self.objects:
            return self.objects[key]
        name = self.name_for(path)
        self.objects[key] = name
        header = f"let {name} = ObjectSchema({swift_string(title)}"
        if oneofs:
            header += ", oneOf: [" + ", ".join("[" + ", ".join(swift_string(x) for x in g) + "]" for g in oneofs) + "]"
        # A CRD's structural schema: the API server refuses null for fields not `nullable`.
        header += ", nullsRefused: true"
        self.decls.append(header + ", [\n" + "\n".join(fields) + "\n])")
        return name


def main():
    docs = [d for d in yaml.safe_load_all(open(CRD_PATH)) if d]
    gen = Generator()
    specs = []
    for d in docs:
        kind = d["spec"]["names"]["kind"]
        if kind not in KINDS:
            continue
        versions = d["spec"]["versions"]
        storage = next((v for v in versions if v.get("storage")), versions[0])
        spec = storage["schema"]["openAPIV3Schema"]["properties"]["spec"]
        t = gen.type_of(spec, kind)
        specs.append((KINDS[kind], t))
    out = [
        "// Generated by Tools/generate-istio-schemas.py from Tools/istio/crd-all.gen.yaml",
        "// (Istio's published CRDs). Do not edit: run `make generate`.",
        "// swiftlint:disable all",
        "",
    ]
    out.extend(gen.decls)
    out.append("")
    for name, t in specs:
        out.append(f"let {name}Type: SchemaType = {t}")
    out.append("")
    out.append("/// Where meshc is stricter than the CRD because Istio's webhook is (path suffix → bounds).")
    out.append("let istioWebhookOverlays: [String: (minimum: Int?, maximum: Int?, required: Bool)] = [")
    for suffix, o in WEBHOOK.items():
        mn = o.get("minimum"); mx = o.get("maximum")
        out.append(f"    {swift_string(suffix)}: ({'nil' if mn is None else mn}, {'nil' if mx is None else mx}, {'true' if o.get('required') else 'false'}),")
    out.append("]")
    print("\n".join(out))


if __name__ == "__main__":
    main()
