// Package source reads app catalogs from where AppDefs live and syncs
// them into a hub's catalog: an OCI image carrying its AppDef
// (/etc/NAE/AppDef.json inside the image, as JARVICE apps do, or the
// image label LabelAppDef), another Flotilla hub's catalog, and a
// directory of AppDef files (a git checkout). Platforms, the one reader
// of an image's platforms (used by the agents' pre-pull too), and the
// image reads take their credentials as options (a keychain, a docker
// config JSON). ReadPull is what a PushToCompute pull
// (/jarvice/pull) reads: the digest a reference names now and the AppDef
// of that image.
//
// A Source lists the apps it offers; Sync makes the target catalog hold
// exactly those of its origin: it adds what is new, replaces what
// changed, removes what the source no longer offers, leaves alone what
// is unchanged (a sync is idempotent) and refuses, with the reason, what
// it may not write (an app of the same name from elsewhere, an invalid
// AppDef). Writes go through the hub's API, so they are raft-replicated
// and checked like any other.
package source
