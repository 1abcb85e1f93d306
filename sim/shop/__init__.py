"""The shop: records, workloads, order placement and client-side resolvers."""
