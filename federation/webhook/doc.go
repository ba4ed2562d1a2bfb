// Package webhook signs, checks and sends the hub's webhook calls, and is
// the helper receivers use to verify them (Verify).
//
// A call is a POST of a JSON job event with the header
// X-Flotilla-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
// "<t>.<body>")>. A receiver recomputes the HMAC over the timestamp and the
// raw body, compares in constant time, and refuses a timestamp outside its
// tolerance (a replayed call). See docs/security.md.
//
// Where calls may go is decided twice: at submit (CheckURL: scheme, the
// administrators' allow-list, and the addresses the host resolves to) and
// again at dial time on the address actually dialled (Dialer), so a name
// that resolves elsewhere later (DNS rebinding) cannot reach a link-local,
// metadata or loopback address.
package webhook
