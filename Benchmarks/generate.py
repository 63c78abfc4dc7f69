#!/usr/bin/env python3
"""Deterministic synthetic policy repositories for the lint benchmark.

Each service gets one file with six resources: Deployments v1 and v2, a Service, a
VirtualService (header canary + 90/10 weighted split + retries + timeout), a DestinationRule
with subsets, and an AuthorizationPolicy. Plus one Namespace per namespace.

Usage: generate.py RESOURCES OUTDIR   (RESOURCES is rounded to whole services)
"""
import os, sys

NAMESPACES = 20

TEMPLATE = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}-v1
  namespace: {ns}
  labels: {{app: {name}, version: v1}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: {name}, version: v1}}
  template:
    metadata:
      labels: {{app: {name}, version: v1}}
    spec:
      serviceAccountName: {name}
      containers:
      - name: app
        image: registry.example.com/{ns}/{name}:1.0.{i}
        ports:
        - containerPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}-v2
  namespace: {ns}
  labels: {{app: {name}, version: v2}}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: {name}, version: v2}}
  template:
    metadata:
      labels: {{app: {name}, version: v2}}
    spec:
      serviceAccountName: {name}
      containers:
      - name: app
        image: registry.example.com/{ns}/{name}:2.0.{i}
        ports:
        - containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: {ns}
spec:
  selector:
    app: {name}
  ports:
  - name: http
    port: 8080
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: {name}
  namespace: {ns}
spec:
  hosts:
  - {name}
  http:
  - name: canary
    match:
    - headers:
        x-canary:
          exact: "true"
    route:
    - destination:
        host: {name}
        subset: v2
  - name: split
    route:
    - destination:
        host: {name}
        subset: v1
      weight: 90
    - destination:
        host: {name}
        subset: v2
      weight: 10
    timeout: 5s
    retries:
      attempts: 3
      perTryTimeout: 1s
      retryOn: 5xx,reset,connect-failure
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: {name}
  namespace: {ns}
spec:
  host: {name}
  trafficPolicy:
    connectionPool:
      http:
        http1MaxPendingRequests: 100
    outlierDetection:
      consecutive5xxErrors: 5
      interval: 10s
      baseEjectionTime: 30s
  subsets:
  - name: v1
    labels:
      version: v1
  - name: v2
    labels:
      version: v2
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: {name}
  namespace: {ns}
spec:
  selector:
    matchLabels:
      app: {name}
  action: ALLOW
  rules:
  - from:
    - source:
        principals:
        - cluster.local/ns/{ns}/sa/{caller}
    to:
    - operation:
        methods: ["GET", "POST"]
        paths: ["/api/*"]
"""

def main():
    resources, out = int(sys.argv[1]), sys.argv[2]
    services = max(1, (resources - NAMESPACES) // 6)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "namespaces.yaml"), "w") as f:
        for n in range(NAMESPACES):
            f.write(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns-{n}\n  labels:\n    istio-injection: enabled\n---\n")
    for i in range(services):
        ns = f"ns-{i % NAMESPACES}"
        d = os.path.join(out, ns)
        os.makedirs(d, exist_ok=True)
        name = f"svc-{i}"
        caller = f"svc-{(i + NAMESPACES) % services}"
        with open(os.path.join(d, f"{name}.yaml"), "w") as f:
            f.write(TEMPLATE.format(name=name, ns=ns, i=i, caller=caller))
    print(f"{out}: {services * 6 + NAMESPACES} resources in {services + 1} files")

if __name__ == "__main__":
    main()
