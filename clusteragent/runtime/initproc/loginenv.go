package initproc

import (
	"net"
	"os"
	"os/user"
	"strconv"
)

// loginEnv is the environment sshd adds for a login of the current user
// from remote to local: USER and LOGNAME, HOME (the passwd entry's, else
// $HOME), SHELL, SSH_CONNECTION and SSH_CLIENT. Variables whose value is
// unknown are left out.
func loginEnv(remote, local net.Addr) []string {
	var env []string
	name, home := "", os.Getenv("HOME")
	if u, err := user.LookupId(strconv.Itoa(os.Getuid())); err == nil {
		name = u.Username
		if u.HomeDir != "" {
			home = u.HomeDir
		}
	}
	if name != "" {
		env = append(env, "USER="+name, "LOGNAME="+name)
	}
	if home != "" {
		env = append(env, "HOME="+home)
	}
	env = append(env, "SHELL="+Shell)
	rh, rp, err1 := net.SplitHostPort(remote.String())
	lh, lp, err2 := net.SplitHostPort(local.String())
	if err1 == nil && err2 == nil {
		env = append(env, "SSH_CONNECTION="+rh+" "+rp+" "+lh+" "+lp, "SSH_CLIENT="+rh+" "+rp+" "+lp)
	}
	return env
}
