#!/bin/sh
# container.sh: busybox containers started with runc, for the
# walkthrough's section on verifying running containers. Needs root,
# runc and a static busybox (Debian: apt-get install runc busybox-static).
#
#   docs/container.sh start NAME own|host|join:OTHER   start one; print its PID
#   docs/container.sh pid NAME                          print its PID
#   docs/container.sh stop NAME...                      delete them
#
# own: an IPC namespace of its own, as every container has by default;
# host: the IPC namespace of the shell that starts it, as docker run
# --ipc=host gives; join:OTHER: that of container OTHER, as the containers
# of one Kubernetes pod share one, or docker run --ipc=container:OTHER.
#
# The bundles and runc's state live in $CONTAINER_SH_STATE, by default
# /run/invoke_ns-walkthrough: a container's name is its own in each.
set -e
state=${CONTAINER_SH_STATE:-/run/invoke_ns-walkthrough}
case $1 in
start)
	name=$2 b=$state/$2
	mkdir -p "$b/rootfs/bin"
	cp "$(command -v busybox)" "$b/rootfs/bin/busybox"
	ln -sf busybox "$b/rootfs/bin/sh"
	ln -sf busybox "$b/rootfs/bin/sleep"
	cd "$b"
	runc spec
	case $3 in
	own) path= ;;
	host) path=/proc/$$/ns/ipc ;;
	join:*) path=/proc/$(cat "$state/${3#join:}/pid")/ns/ipc ;;
	*) echo "container.sh: own, host or join:NAME, not $3" >&2; exit 2 ;;
	esac
	sed -i -e 's/"terminal": true/"terminal": false/' -e 's/^\([[:space:]]*\)"sh"$/\1"sleep", "3600"/' config.json
	[ -z "$path" ] || sed -i "s|\"type\": \"ipc\"|\"type\": \"ipc\", \"path\": \"$path\"|" config.json
	runc --root "$state/runc" run --detach --pid-file "$b/pid" "$name" </dev/null >/dev/null 2>"$b/log"
	pid=$(cat "$b/pid")
	# runc returns once the container has started, which may be before its
	# process has executed sleep: wait for that, a few seconds at most.
	i=0
	until [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = sleep ]; do
		i=$((i + 1))
		[ $i -le 500 ] || { echo "container.sh: $name did not start sleep" >&2; exit 1; }
		sleep 0.01
	done
	echo "$pid"
	;;
pid)
	cat "$state/$2/pid"
	echo
	;;
stop)
	shift
	for n; do
		runc --root "$state/runc" delete --force "$n" 2>/dev/null || true
		rm -rf "${state:?}/$n"
	done
	rmdir "$state/runc" "$state" 2>/dev/null || true
	;;
*)
	echo "usage: container.sh start NAME own|host|join:OTHER | pid NAME | stop NAME..." >&2
	exit 2
	;;
esac
