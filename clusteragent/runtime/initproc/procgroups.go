package initproc

import (
	"os"
	"strconv"
	"strings"
)

// jobGroups returns the process groups of root's descendants on this node
// (read from /proc), other than root's own group and the groups whose
// leader is an SSH server's process (sshd, sshd-session: a signal must not
// close the job's SSH connections). These are the job's processes: the
// head's command (its own group), each SSH session's command (a session
// of its own), each array task (its own group), and whatever they started
// in their groups.
func jobGroups(root int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	procs := make(map[int]statLine, len(entries))
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		p, ok := parseStat(string(b))
		if !ok {
			continue
		}
		procs[pid] = p
		children[p.ppid] = append(children[p.ppid], pid)
	}
	own := procs[root].pgid
	seen := map[int]bool{}
	var groups []int
	queue := append([]int(nil), children[root]...)
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		queue = append(queue, children[pid]...)
		g := procs[pid].pgid
		if g <= 0 || g == own || seen[g] {
			continue
		}
		seen[g] = true
		if leader, ok := procs[g]; ok && strings.HasPrefix(leader.comm, "sshd") {
			continue
		}
		groups = append(groups, g)
	}
	return groups
}

type statLine struct {
	ppid, pgid int
	comm       string
}

// parseStat reads the parent, group and command name of a /proc/PID/stat
// line: "PID (COMM) STATE PPID PGRP ...", COMM possibly holding spaces
// and parentheses (the last ')' ends it).
func parseStat(s string) (statLine, bool) {
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return statLine{}, false
	}
	f := strings.Fields(s[end+1:])
	if len(f) < 3 {
		return statLine{}, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	pgid, err2 := strconv.Atoi(f[2])
	if err1 != nil || err2 != nil {
		return statLine{}, false
	}
	return statLine{ppid: ppid, pgid: pgid, comm: s[open+1 : end]}, true
}
