// Imported first by the gateway's entry points (main.ts, supervisor/child.ts), for its side effect on every thread
// of the process: V8's flags are the process's, read by each isolate's garbage collector as it runs.
//
// Allocation-site pretenuring lets V8 allocate an object straight in the old generation when most objects made at
// the same place in the code survived the young generation's collections. A gateway's objects live for one request;
// a burst of requests in flight during a few scavenges is enough to pretenure the request path's own allocation
// sites, after which every request's state lands in the old generation, each scavenge scans it, and only full
// collections free it. Measured with a virtual key on each request (bench/README.md, "Governance"): the front
// thread's scavenges cost 5.7 µs per request with pretenuring against 0.9 µs without, and its heap grew to 111 MB
// between full collections against none.
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--no-allocation-site-pretenuring');
