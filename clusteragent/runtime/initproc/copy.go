package initproc

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// BinaryName is the file name CopySelf gives the copy.
const BinaryName = "flotilla-init"

// CopySelf copies the running executable to dir/flotilla-init (mode 755),
// creating dir if needed, atomically, and returns the copy's path. The init container runs it to put
// the static binary into the volume it shares with the app container.
func CopySelf(dir string) (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrSetup, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("%w: %w", ErrSetup, err)
	}
	return copyFile(self, filepath.Join(dir, BinaryName))
}

func copyFile(src, dst string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrSetup, err)
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*")
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrSetup, err)
	}
	_, err = io.Copy(tmp, in)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o755)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("%w: copy %s: %w", ErrSetup, src, err)
	}
	return dst, nil
}
