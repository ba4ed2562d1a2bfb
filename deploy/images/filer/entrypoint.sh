#!/bin/sh
# Serves EXPORT_DIR (default /exports) over NFS until SIGTERM, then stops
# the server cleanly so clients see a closed export, not a hung one.
set -eu
export_dir="${EXPORT_DIR:-/exports}"
threads="${NFS_THREADS:-8}"

echo "${export_dir} *(rw,fsid=0,sync,no_subtree_check,no_root_squash,insecure)" > /etc/exports
mountpoint -q /proc/fs/nfsd || mount -t nfsd nfsd /proc/fs/nfsd
rpcbind -w
rpc.nfsd "${threads}"
exportfs -ra
rpc.mountd --port 20048 --foreground &
mountd=$!

stop() {
	exportfs -ua || true
	rpc.nfsd 0 || true
	kill "${mountd}" 2>/dev/null || true
	exit 0
}
trap stop TERM INT
echo "flotilla-filer: serving ${export_dir}"
wait "${mountd}"
