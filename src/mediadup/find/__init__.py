"""Find: folders -> the files to compare (`FileStat`), byte-identical content hashes, and Live
Photo pairs (a photo and its motion clip, one item). Reads names and bytes, decodes nothing."""
