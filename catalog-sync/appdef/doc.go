// Package appdef is the JARVICE application definition (AppDef.json): its
// model with every field of the public reference at every level, a decoder
// that accepts numbers written as strings and keeps fields it does not
// know (reporting them as warnings), the semantic validator every entry
// point uses (all errors, each with its JSON path), the command line,
// environment and uploads a job of an AppDef command gets, exactly as
// JARVICE builds them, and the AppDef as JARVICE clients type it.
//
// The stored form of an AppDef is the JSON it was registered with; this
// package reads it and never rewrites it, so a round trip is lossless.
package appdef
