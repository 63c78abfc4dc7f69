// The Kubernetes kinds meshc reads. Kubernetes objects have far more fields than meshc
// models, so these objects stay open: only the fields meshc reads are typed.

let containerPort = ObjectSchema("ContainerPort", open: true, [
    f("containerPort", port, required: true), f("name", .string(.dnsLabel)),
    f("protocol", .enumeration(["TCP", "UDP", "SCTP"])),
])

let container = ObjectSchema("Container", open: true, [
    f("name", .string(.dnsLabel), required: true), f("image", .string()),
    f("ports", .array(.object(containerPort))), f("securityContext", .any),
])

let podSpec = ObjectSchema("PodSpec", open: true, [
    f("containers", .array(.object(container)), required: true), f("initContainers", .array(.object(container))),
    f("serviceAccountName", .string(.dnsSubdomain)), f("serviceAccount", .string()), f("securityContext", .any),
])

let podTemplate = ObjectSchema("PodTemplateSpec", open: true, [
    f("metadata", .object(ObjectSchema("PodTemplateMetadata", open: true, [
        f("labels", labelMap), f("annotations", stringMap),
    ]))),
    f("spec", .object(podSpec)),
])

let labelSelector = ObjectSchema("LabelSelector", open: true, [
    f("matchLabels", labelMap), f("matchExpressions", .any),
])

let serviceSpec = ObjectSchema("ServiceSpec", open: true, [
    f("selector", labelMap),
    f("ports", .array(.object(ObjectSchema("ServicePort", open: true, [
        f("name", .string()), f("port", port, required: true), f("targetPort", .intOrString),
        f("protocol", .enumeration(["TCP", "UDP", "SCTP"])), f("appProtocol", .string()), f("nodePort", port),
    ])))),
    f("type", .enumeration(["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"])),
    f("clusterIP", .string()), f("externalName", .string()),
])

let controllerSpec = ObjectSchema("WorkloadControllerSpec", open: true, [
    f("replicas", .integer(min: 0)), f("selector", .object(labelSelector)),
    f("template", .object(podTemplate), required: true),
])

let jobSpec = ObjectSchema("JobSpec", open: true, [f("template", .object(podTemplate), required: true)])

let cronJobSpec = ObjectSchema("CronJobSpec", open: true, [
    f("schedule", .string(), required: true),
    f("jobTemplate", .object(ObjectSchema("JobTemplateSpec", open: true, [
        f("metadata", .any), f("spec", .object(jobSpec)),
    ])), required: true),
])
