// Building blocks shared by several Istio kinds.

/// Shorthand constructors that keep the kind definitions readable as a table.
func f(_ name: String, _ type: SchemaType, required: Bool = false, nullable: Bool = false, _ doc: String = "") -> Field {
    Field(name, type, required: required, nullable: nullable, doc: doc)
}

let strings: SchemaType = .array(.string())
let labelMap: SchemaType = .map(key: .labelKey, value: .string(.labelValue))
let stringMap: SchemaType = .map(value: .string())
let port: SchemaType = .integer(min: 1, max: 65535)
let percent0to100: SchemaType = .number(min: 0, max: 100)
let duration: SchemaType = .string(.duration)

let workloadSelector = ObjectSchema("WorkloadSelector", [
    f("matchLabels", labelMap, "Labels a workload must carry for the policy to apply."),
])

let networkingWorkloadSelector = ObjectSchema("NetworkingWorkloadSelector", [
    f("labels", labelMap, "Labels a workload must carry for this resource to apply."),
])

let policyTargetReference = ObjectSchema("PolicyTargetReference", [
    f("group", .string()), f("kind", .string(), required: true), f("name", .string(), required: true),
    f("namespace", .string()),
])

let portSelector = ObjectSchema("PortSelector", [f("number", port)])

let destination = ObjectSchema("Destination", [
    f("host", .string(), required: true, "Service registry name: short name, FQDN or ServiceEntry host."),
    f("subset", .string(), "A subset defined in the host's DestinationRule."),
    f("port", .object(portSelector)),
])

let percent = ObjectSchema("Percent", [f("value", percent0to100)])

let stringMatch = ObjectSchema("StringMatch", oneOf: [["exact", "prefix", "regex"]], [
    f("exact", .string()), f("prefix", .string()), f("regex", .string()),
])
