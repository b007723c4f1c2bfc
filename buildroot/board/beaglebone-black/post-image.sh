#!/bin/sh
# Post-image script of iocinit's BeagleBone Black image: the SD card image
# of Buildroot's own beaglebone board (boot partition with MLO, U-Boot,
# zImage, the am335x device trees and uEnv.txt; ext4 root partition).
# Buildroot runs it from its top directory.
set -eu

exec support/scripts/genimage.sh -c board/beagleboard/beaglebone/genimage.cfg
